// A task's log file: what it printed on stdout/stderr and logged with task.log, every try marked,
// every line timestamped (format in core/log-line.ts). Owner-only, append-only. Created with its
// first line: a task that writes nothing leaves no file (readers take a missing log as empty).
// A write that fails (a full disk) never reaches the executor or the worker: the line is dropped,
// and the log says how many were once it can be written again.
import { closeSync, fchmodSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { formatLogLine, type LogStream } from "../core/log-line.ts";
import { ensurePrivateDir, taskLogPath } from "../host/home.ts";
import { workerSay } from "./worker-log.ts";

/** Whether every line is also written to this process's stdout (`bgtask work`, on a terminal). */
let echo = false;

/** Makes every task log line also appear on stdout, prefixed with its task: the foreground worker's view. */
export function echoTaskLines(): void {
  echo = true;
}

/** Log folders this process has checked (created, owned, not a symlink): checked once, not per task. */
const checkedDirs = new Set<string>();

function openLog(path: string): number {
  const dir = dirname(path);
  if (!checkedDirs.has(dir)) {
    ensurePrivateDir(dir);
    checkedDirs.add(dir);
  }
  let fd: number;
  try {
    fd = openSync(path, "a", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // The folder was removed since it was checked: make it again.
    ensurePrivateDir(dir);
    fd = openSync(path, "a", 0o600);
  }
  // An existing log (an earlier try's) is tightened if someone loosened it.
  fchmodSync(fd, 0o600);
  return fd;
}

export class TaskLog {
  private readonly path: string;
  private fd: number | null = null;
  private readonly tryNumber: number;
  private readonly partial = new Map<LogStream, string>();
  private readonly taskId: string;
  /** Lines dropped since the last one that could be written, and why the first of them was. */
  private lost: { lines: number; reason: string } | null = null;

  constructor(home: string, taskId: string, tryNumber: number) {
    this.path = taskLogPath(home, taskId);
    this.taskId = taskId;
    this.tryNumber = tryNumber;
  }

  /** Appends whole lines; a chunk without a final newline waits for the rest of its line. */
  write(stream: LogStream, text: string): void {
    const buffered = (this.partial.get(stream) ?? "") + text;
    const lines = buffered.split("\n");
    this.partial.set(stream, lines.pop()!);
    for (const line of lines) this.line(stream, line);
  }

  private line(stream: LogStream, text: string): void {
    const line = formatLogLine(new Date(), this.tryNumber, stream, text);
    if (echo) {
      try {
        writeSync(1, `task ${this.taskId} ${line}`);
      } catch {
        // the terminal went away: the log file still has the line
      }
    }
    try {
      this.fd ??= openLog(this.path);
      if (this.lost) {
        const { lines, reason } = this.lost;
        this.append(this.fd, formatLogLine(new Date(), this.tryNumber, "bgtask", `${lines} log line(s) before this one could not be written (${reason})`));
        this.lost = null;
      }
      this.append(this.fd, line);
    } catch (error) {
      if (!this.lost) {
        const reason = (error as Error).message;
        workerSay(`task ${this.taskId}: its log ${this.path} cannot be written (${reason}); lines are dropped until it can`);
        this.lost = { lines: 0, reason };
      }
      this.lost.lines += 1;
    }
  }

  /** Appends all of `line` or, failing partway, cuts off what it wrote: the log never holds a torn line. */
  private append(fd: number, line: string): void {
    const data = Buffer.from(line);
    let written = 0;
    try {
      while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    } catch (error) {
      if (written > 0) {
        try {
          ftruncateSync(fd, fstatSync(fd).size - written);
        } catch {
          // the reader skips a line not in the format
        }
      }
      throw error;
    }
  }

  /** Writes out unfinished lines: before the try is settled, so a reader that sees it final has them all. */
  endLines(): void {
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
  }

  close(): void {
    this.endLines();
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // closed or not, this log is done
      }
    }
    this.fd = null;
  }
}
