// A worker's (or tick's) pulse outside the journal: a file per process under <home>/beats whose
// mtime its supervisor thread renews every heartbeat interval. The heartbeat in the journal needs
// the journal lock, which on a loaded machine can queue a live worker's heartbeat past the
// heartbeat timeout (docs/README-performance.md). The file needs no lock; a frozen process
// (SIGSTOP, a suspended VM) stops renewing it too, so recovery still ends its try.
import { closeSync, constants, openSync, readdirSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { WorkerRef } from "../core/task.ts";
import { ensurePrivateDir } from "./home.ts";
import { currentProcess, processStartTime } from "./process-identity.ts";

function beatsDir(home: string): string {
  return join(home, "beats");
}

function beatName(worker: WorkerRef): string {
  return `${worker.pid}-${worker.startTime}`;
}

/** When `worker` last showed signs of life through its beat file, in ms since the epoch; null when unknown. */
export function lastBeat(home: string): (worker: WorkerRef) => number | null {
  return (worker) => {
    if (worker.host !== hostname() || worker.startTime === null) return null;
    try {
      return statSync(join(beatsDir(home), beatName(worker))).mtimeMs;
    } catch {
      return null;
    }
  };
}

/** A killed worker's beat file is kept this long: recovery reads from it which task the worker had started. */
const LEFTOVER_KEEP_MS = 10 * 60_000;

/** Removes the beat files of processes that are gone: left by workers that were killed. */
function removeLeftovers(dir: string): void {
  for (const name of readdirSync(dir)) {
    const [pid, startTime] = name.split("-").map(Number);
    if (processStartTime(pid!) !== startTime) {
      try {
        if (statSync(join(dir, name)).mtimeMs < Date.now() - LEFTOVER_KEEP_MS) unlinkSync(join(dir, name));
      } catch {
        // removed by another process doing the same
      }
    }
  }
}

/** Marks the note's format (the tasks started), so a note of another form tells nothing. */
const STARTED = "started:";

/**
 * Notes in this process's beat file (a positioned write, no lock) which tasks it has started and
 * not yet recorded the end of, before their executors run: a worker that claims tasks ahead of
 * starting them (its local queue) and dies has its other first tries given back by recovery, with
 * no try counted.
 */
export class StartedNote {
  private readonly dir: string;
  private readonly path: string;
  private fd: number | null = null;
  /** The longest note written: a shorter one is padded to overwrite it whole. */
  private width = 0;

  constructor(home: string) {
    this.dir = beatsDir(home);
    this.path = join(this.dir, beatName(currentProcess()));
    this.write([]);
  }

  write(ids: readonly string[]): void {
    const text = `${STARTED}${ids.join(",")}`;
    this.width = Math.max(this.width, text.length);
    try {
      if (this.fd === null) {
        ensurePrivateDir(this.dir);
        this.fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
      }
      writeSync(this.fd, text.padEnd(this.width), 0);
    } catch {
      // No note: recovery cannot tell, and counts a try against each of this worker's tries.
      this.close();
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The tasks `worker` had started and not recorded, from its beat file; null when that cannot be told (another host, no note). */
export function startedTasks(home: string): (worker: WorkerRef) => readonly string[] | null {
  return (worker) => {
    if (worker.host !== hostname() || worker.startTime === null) return null;
    let note: string;
    try {
      note = readFileSync(join(beatsDir(home), beatName(worker)), "latin1").trim();
    } catch {
      return null;
    }
    if (!note.startsWith(STARTED)) return null;
    const ids = note
      .slice(STARTED.length)
      .split(",")
      .filter((id) => id !== "");
    return ids.every((id) => /^[1-9][0-9]*$/.test(id)) ? ids : null;
  };
}

function touch(file: string): void {
  const now = new Date();
  try {
    utimesSync(file, now, now);
  } catch {
    // Removed (by hand, or with the home folder): made again, and if that fails too, the journal
    // heartbeat is still there.
    try {
      writeFileSync(file, "", { mode: 0o600 });
    } catch {
      // nothing more to do
    }
  }
}

/**
 * Renews this process's beat file every `everyMs`. Call from a thread a busy executor cannot
 * block (the supervisor thread); stopBeating removes the file when the process is done.
 */
export function startBeating(home: string, everyMs: number): void {
  const self = currentProcess();
  if (self.startTime === null) return;
  const dir = beatsDir(home);
  ensurePrivateDir(dir);
  removeLeftovers(dir);
  const file = join(dir, beatName(self));
  touch(file);
  setInterval(() => touch(file), everyMs).unref();
}

export function stopBeating(home: string): void {
  try {
    unlinkSync(join(beatsDir(home), beatName(currentProcess())));
  } catch {
    // never made (off Linux) or already gone
  }
}
