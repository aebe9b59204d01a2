// The cold queue's segment (see ColdQueue in schema.ts): plain queued tasks, one id-first JSON line
// each (historyLine's format), in id order, appended under the lock like the history. Committed
// bytes never change while the segment lives, so a piece read once stays good: a draining worker
// reads the segment in large pieces, not a line per claim, and `status` finds a task by bisection.
import { closeSync, readSync } from "node:fs";
import { join } from "node:path";
import { compareIds } from "../../core/transitions.ts";
import type { TaskRecord } from "../../core/task.ts";
import { countOf } from "../../core/stats.ts";
import { JournalCorruptError } from "../../errors.ts";
import { parseJsonLine } from "./durable-file.ts";
import { openForReading } from "./archive.ts";
import { checkTask, type ColdQueue } from "./schema.ts";

const PIECE = 256 * 1024;
const PROBE = 4 * 1024;
const ID_PREFIX = /^\{"id":"([1-9][0-9]*)",/;

/** One line of the segment and the offset of the line after it. */
export interface ColdLine {
  task: TaskRecord;
  next: number;
}

function readAt(path: string, fd: number, from: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, from + read);
    if (n === 0) throw new JournalCorruptError(path, `it is shorter than the ${from + length} bytes the journal committed`);
    read += n;
  }
  return buffer;
}

export function parseColdLine(path: string, line: Buffer): TaskRecord {
  const task = parseJsonLine(path, line, "a queued task's line");
  const problem = checkTask(task) ?? ((task as TaskRecord).status === "queued" ? null : `a cold task is ${String((task as TaskRecord).status)}, not queued`);
  if (problem) throw new JournalCorruptError(path, `a queued task's line is malformed: ${problem}`);
  return task as TaskRecord;
}

function idOf(path: string, line: Buffer): string {
  const match = ID_PREFIX.exec(line.toString("latin1", 0, Math.min(line.length, 32)));
  if (!match) throw new JournalCorruptError(path, "a queued task's line does not start with its id");
  return match[1]!;
}

/** Reads a segment's committed lines; keeps the last piece it read. */
/** Tasks waiting in the cold queue. */
export function coldCount(queue: ColdQueue): number {
  return queue.count - queue.skip.length;
}

export class ColdReader {
  private readonly home: string;
  private piece: { path: string; start: number; bytes: Buffer } | null = null;

  constructor(home: string) {
    this.home = home;
  }

  pathOf(queue: ColdQueue): string {
    return join(this.home, queue.file);
  }

  /** The line starting at `offset`, a line start before `queue.bytes`. */
  lineAt(queue: ColdQueue, offset: number): { line: Buffer; next: number } {
    const path = this.pathOf(queue);
    const piece = this.piece;
    if (piece && piece.path === path && offset >= piece.start) {
      const newline = piece.bytes.indexOf(10, offset - piece.start);
      if (newline !== -1) return { line: piece.bytes.subarray(offset - piece.start, newline), next: piece.start + newline + 1 };
    }
    const fd = openForReading(path);
    try {
      // Every committed line ends with a newline, so one is found by the committed end at the latest.
      for (let length = Math.min(PIECE, queue.bytes - offset); ; length = Math.min(length * 2, queue.bytes - offset)) {
        const bytes = readAt(path, fd, offset, length);
        const newline = bytes.indexOf(10);
        if (newline !== -1) {
          this.piece = { path, start: offset, bytes };
          return { line: bytes.subarray(0, newline), next: offset + newline + 1 };
        }
        if (offset + length >= queue.bytes) throw new JournalCorruptError(path, "its committed bytes do not end with a whole line");
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The cold task at the cursor, or null when the segment is used up. Skipped ids are not passed over here. */
  head(queue: ColdQueue): ColdLine | null {
    if (queue.offset >= queue.bytes) return null;
    const { line, next } = this.lineAt(queue, queue.offset);
    return { task: parseColdLine(this.pathOf(queue), line), next };
  }

  /** The tasks from the cursor on, in id order, without the skipped ones. */
  *tasks(queue: ColdQueue): Generator<TaskRecord> {
    const skip = new Set(queue.skip);
    for (let offset = queue.offset; offset < queue.bytes; ) {
      const { line, next } = this.lineAt(queue, offset);
      offset = next;
      if (skip.size > 0 && skip.has(idOf(this.pathOf(queue), line))) continue;
      yield parseColdLine(this.pathOf(queue), line);
    }
  }

  /** The cold task `id`, found by bisection over the segment (ids grow along it); null when it is not cold. */
  find(queue: ColdQueue, id: string): TaskRecord | null {
    if (queue.offset >= queue.bytes || queue.skip.includes(id)) return null;
    const path = this.pathOf(queue);
    const fd = openForReading(path);
    try {
      // The line for `id`, if any, starts in [low, high); `low` is always a line start.
      let low = queue.offset;
      let high = queue.bytes;
      while (high - low > PIECE) {
        const mid = low + Math.floor((high - low) / 2);
        const start = lineStartAfter(path, fd, mid, high);
        if (start === null) {
          high = mid + 1;
          continue;
        }
        const order = compareIds(id, idOf(path, lineFrom(path, fd, start, queue.bytes)));
        if (order === 0) return parseColdLine(path, this.lineAt(queue, start).line);
        if (order < 0) high = start;
        else low = start;
      }
      for (let offset = low; offset < high; ) {
        const { line, next } = this.lineAt(queue, offset);
        const order = compareIds(id, idOf(path, line));
        if (order === 0) return parseColdLine(path, line);
        if (order < 0) return null;
        offset = next;
      }
      return null;
    } finally {
      closeSync(fd);
    }
  }
}

/** The first line start after `mid` and before `high`, or null. */
function lineStartAfter(path: string, fd: number, mid: number, high: number): number | null {
  for (let from = mid; from < high; from += PROBE) {
    const bytes = readAt(path, fd, from, Math.min(PROBE, high - from));
    const newline = bytes.indexOf(10);
    if (newline !== -1) return from + newline + 1 < high ? from + newline + 1 : null;
  }
  return null;
}

/** The first bytes of the line at `start` (enough for its id). */
function lineFrom(path: string, fd: number, start: number, committed: number): Buffer {
  return readAt(path, fd, start, Math.min(64, committed - start));
}

/** The queue with its first line taken (claimed, moved to the active set, or passed over because it left the queue). */
export function pastHead(queue: ColdQueue, head: ColdLine): ColdQueue {
  const next = { ...queue, offset: head.next, count: queue.count - 1, skip: queue.skip.filter((id) => id !== head.task.id) };
  if (queue.executors) {
    const { executor } = head.task;
    const left = countOf(queue.executors, executor) - 1;
    const { [executor]: _taken, ...others } = queue.executors;
    next.executors = left > 0 ? { ...others, [executor]: left } : others;
  }
  return next;
}
