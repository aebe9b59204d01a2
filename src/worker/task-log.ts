// A task's log file: what it printed on stdout/stderr and logged with task.log, every try marked,
// every line timestamped (format in core/log-line.ts). Owner-only, append-only. Created with its
// first line: a task that writes nothing leaves no file (readers take a missing log as empty).
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { formatLogLine, type LogStream } from "../core/log-line.ts";
import { ensurePrivateDir, taskLogPath } from "../host/home.ts";

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

  constructor(home: string, taskId: string, tryNumber: number) {
    this.path = taskLogPath(home, taskId);
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
    this.fd ??= openLog(this.path);
    writeSync(this.fd, formatLogLine(new Date(), this.tryNumber, stream, text));
  }

  /** Writes out unfinished lines: before the try is settled, so a reader that sees it final has them all. */
  endLines(): void {
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
  }

  close(): void {
    this.endLines();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
