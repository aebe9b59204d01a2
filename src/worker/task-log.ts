// A task's log file: what it printed on stdout/stderr and logged with task.log, every try marked,
// every line timestamped. Owner-only, append-only.
import { closeSync, fchmodSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDir } from "../host/home.ts";

export function logPath(home: string, taskId: string): string {
  return join(home, "logs", `${taskId}.log`);
}

export class TaskLog {
  private readonly fd: number;
  private readonly tryNumber: number;
  private readonly partial = new Map<string, string>();

  constructor(home: string, taskId: string, tryNumber: number) {
    ensurePrivateDir(join(home, "logs"));
    this.fd = openSync(logPath(home, taskId), "a", 0o600);
    fchmodSync(this.fd, 0o600);
    this.tryNumber = tryNumber;
  }

  /** Appends whole lines; a chunk without a final newline waits for the rest of its line. */
  write(stream: "stdout" | "stderr" | "log" | "bgtask", text: string): void {
    const buffered = (this.partial.get(stream) ?? "") + text;
    const lines = buffered.split("\n");
    this.partial.set(stream, lines.pop()!);
    for (const line of lines) this.line(stream, line);
  }

  private line(stream: string, text: string): void {
    writeSync(this.fd, `${new Date().toISOString()} [try ${this.tryNumber}] ${stream.padEnd(6)} | ${text}\n`);
  }

  close(): void {
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
    closeSync(this.fd);
  }
}
