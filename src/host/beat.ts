// A worker's (or tick's) pulse outside the journal: a file per process under <home>/beats whose
// mtime its supervisor thread renews every heartbeat interval. The heartbeat in the journal needs
// the journal lock, and a lock queued behind hundreds of writers on a loaded machine kept a live
// worker silent for 41 s, past the heartbeat timeout: its try was failed as "dead" (stress test
// C1). The file needs no lock; a frozen process (SIGSTOP, a suspended VM) stops renewing it too,
// so recovery still ends its try.
import { readdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
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

/** Removes the beat files of processes that are gone: left by workers that were killed. */
function removeLeftovers(dir: string): void {
  for (const name of readdirSync(dir)) {
    const [pid, startTime] = name.split("-").map(Number);
    if (processStartTime(pid!) !== startTime) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // removed by another process doing the same
      }
    }
  }
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
