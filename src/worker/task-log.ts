// A task's log file: what it printed on stdout/stderr and logged with task.log, every try marked,
// every line timestamped (format in core/log-line.ts). Owner-only, append-only.
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { formatLogLine, type LogStream } from "../core/log-line.ts";
import { ensurePrivateDir, taskLogPath } from "../host/home.ts";

export class TaskLog {
  private readonly fd: number;
  private readonly tryNumber: number;
  private readonly partial = new Map<LogStream, string>();

  constructor(home: string, taskId: string, tryNumber: number) {
    const path = taskLogPath(home, taskId);
    ensurePrivateDir(dirname(path));
    this.fd = openSync(path, "a", 0o600);
    fchmodSync(this.fd, 0o600);
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
    writeSync(this.fd, formatLogLine(new Date(), this.tryNumber, stream, text));
  }

  /** Writes out unfinished lines: before the try is settled, so a reader that sees it final has them all. */
  endLines(): void {
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
  }

  close(): void {
    this.endLines();
    closeSync(this.fd);
  }
}
