// Reads a task's log file for `logs` and `status`: whole lines only (a line still being written
// waits for its newline), each parsed with core/log-line.ts. Never loads a big log at once.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { parseLogLine, type LogLine } from "../core/log-line.ts";

const CHUNK = 1024 * 1024;

/** Lines of a task's log: parsed, or as they are when not in the log format. */
export type LogLines = (LogLine | string)[];

function parse(text: string): LogLine | string {
  return parseLogLine(text) ?? text;
}

function openIfPresent(path: string): number | null {
  try {
    return openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The last `count` lines (looking at most at the last `maxBytes`). */
export function readLogTail(path: string, count: number, maxBytes = 64 * 1024): LogLines {
  const fd = openIfPresent(path);
  if (fd === null) return [];
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    const read = readSync(fd, buffer, 0, buffer.length, start);
    const lines = buffer.subarray(0, read).toString("utf8").split("\n");
    lines.pop();
    // Starting mid-file, the first piece is most likely part of a line.
    if (start > 0) lines.shift();
    return lines.slice(-count).map(parse);
  } finally {
    closeSync(fd);
  }
}

/** Reads what was appended since the last call, as whole lines. */
export class LogFollower {
  private readonly path: string;
  private offset = 0;
  private rest = Buffer.alloc(0);

  constructor(path: string) {
    this.path = path;
  }

  /** Calls `onLines` once per chunk read, until the end of the file as it is now. */
  readNew(onLines: (lines: LogLines) => void): void {
    const fd = openIfPresent(this.path);
    if (fd === null) return;
    try {
      const buffer = Buffer.alloc(CHUNK);
      for (;;) {
        const read = readSync(fd, buffer, 0, CHUNK, this.offset);
        if (read === 0) return;
        this.offset += read;
        const data = Buffer.concat([this.rest, buffer.subarray(0, read)]);
        const end = data.lastIndexOf(10);
        if (end === -1) {
          this.rest = data;
          continue;
        }
        this.rest = Buffer.from(data.subarray(end + 1));
        onLines(data.subarray(0, end).toString("utf8").split("\n").map(parse));
      }
    } finally {
      closeSync(fd);
    }
  }
}
