// The archive of finished tasks (history.jsonl on disk, "the history" in the journal; not a
// task's `history` of tries): an append-only JSON-lines file beside journal.json. A task that
// becomes final is appended once; journal.json records how many bytes are committed, so a line
// appended by a writer that crashed before its commit is invisible and cut off by the next writer.
// Reads walk backwards from the end: recent history costs the same however long it grows.
import { closeSync, openSync, readSync } from "node:fs";
import { JournalCorruptError, journalIoError } from "../../errors.ts";
import { finishedTime, isFinal, type TaskRecord } from "../../core/task.ts";
import { checkTask } from "./schema.ts";
import { parseJsonLine } from "./durable-file.ts";

const TASK_ID = /^[1-9][0-9]*$/;

/** A history line is a final task record, or a tombstone `{"id":…,"removed":…}` that hides older ones. */
export type HistoryEntry = { id: string; removed: string } | TaskRecord;

export function isTombstone(entry: HistoryEntry): entry is { id: string; removed: string } {
  return "removed" in entry;
}

/** Serialises with "id" first, so a search can match a line by its prefix without parsing it. */
export function historyLine(entry: HistoryEntry): string {
  const { id, ...rest } = entry;
  return `${JSON.stringify({ id, ...rest })}\n`;
}

const CHUNK = 256 * 1024;

export function openForReading(path: string): number {
  try {
    return openSync(path, "r");
  } catch (error) {
    throw journalIoError(path, error);
  }
}

/**
 * Yields the committed lines newest first, as raw bytes (callers parse only what they need), down
 * to `from`, which must be 0 or just past a newline.
 */
export function* linesBackwards(path: string, committedBytes: number, from = 0): Generator<Buffer> {
  if (committedBytes <= from) return;
  const fd = openForReading(path);
  try {
    let end = committedBytes;
    let carry: Buffer = Buffer.alloc(0);
    while (end > from) {
      const start = Math.max(from, end - CHUNK);
      const chunk = Buffer.alloc(end - start);
      const read = readSync(fd, chunk, 0, chunk.length, start);
      if (read !== chunk.length) throw new JournalCorruptError(path, `it is shorter than the ${committedBytes} bytes the journal committed`);
      let buffer = carry.length ? Buffer.concat([chunk, carry]) : chunk;
      // Every committed line ends with "\n": drop the final one before splitting.
      let stop = end === committedBytes && buffer[buffer.length - 1] === 10 ? buffer.length - 1 : buffer.length;
      // lastIndexOf treats a negative offset as counted from the end: never pass one.
      let nl = stop > 0 ? buffer.lastIndexOf(10, stop - 1) : -1;
      while (nl !== -1) {
        yield buffer.subarray(nl + 1, stop);
        stop = nl;
        nl = stop > 0 ? buffer.lastIndexOf(10, stop - 1) : -1;
      }
      carry = buffer.subarray(0, stop);
      end = start;
      buffer = Buffer.alloc(0);
    }
    if (carry.length) yield carry;
  } finally {
    closeSync(fd);
  }
}

/** Why `entry` is not a history entry (a final task record, or a tombstone), or null when it is. */
export function historyEntryProblem(entry: unknown): string | null {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return "a line is not a JSON object";
  if ("removed" in entry) {
    const { id, removed } = entry as Record<string, unknown>;
    return typeof id === "string" && TASK_ID.test(id) && typeof removed === "string" ? null : "a removal line is malformed";
  }
  const problem = checkTask(entry);
  if (problem) return `a task line is malformed: ${problem}`;
  const { status } = entry as TaskRecord;
  return isFinal(status) ? null : `a task line holds a task that is not final (${status})`;
}

/** Parses and checks one committed history line: anything else is corruption of the history. */
export function parseHistoryLine(path: string, line: Buffer): HistoryEntry {
  const entry = parseJsonLine(path, line, "a history line");
  const problem = historyEntryProblem(entry);
  if (problem) throw new JournalCorruptError(path, problem);
  return entry as HistoryEntry;
}

/** How every line for `id` starts (see historyLine). */
export function linePrefix(id: string): Buffer {
  return Buffer.from(`{"id":${JSON.stringify(id)},`);
}

/** The newest entry for `id` in the committed bytes from `from` on, found by prefix match so only that one line is parsed. */
export function findInHistory(path: string, committedBytes: number, id: string, from = 0): HistoryEntry | null {
  const prefix = linePrefix(id);
  for (const line of linesBackwards(path, committedBytes, from)) {
    if (line.length >= prefix.length && line.subarray(0, prefix.length).equals(prefix)) return parseHistoryLine(path, line);
  }
  return null;
}

/** The oldest committed line (the first), read forward until its newline; null when there is none. */
export function firstLine(path: string, committedBytes: number): Buffer | null {
  if (committedBytes === 0) return null;
  const fd = openForReading(path);
  try {
    const chunks: Buffer[] = [];
    for (let position = 0; position < committedBytes; ) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, committedBytes - position));
      const read = readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      const nl = chunk.subarray(0, read).indexOf(10);
      if (nl !== -1) {
        chunks.push(chunk.subarray(0, nl));
        break;
      }
      chunks.push(chunk.subarray(0, read));
      position += read;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** When a history entry left the active set: a task's finish, a tombstone's removal. */
export function entryTime(entry: HistoryEntry): number {
  return isTombstone(entry) ? Date.parse(entry.removed) : finishedTime(entry);
}
