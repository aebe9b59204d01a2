// The journal's write-ahead log: every change to the active set is appended as JSON lines and
// sealed by a commit line, so a change costs what it changed, not the size of the journal.
// Lines after the last commit belong to a writer that died mid-append: readers ignore them and
// the next writer cuts them off. A commit line `{"commit":rev,"crc":N}` carries the CRC-32 of its
// transaction's entry lines (their bytes, newlines included); revs follow one another from the
// snapshot's. A commit line without "crc" was written before checksums and is taken on trust.
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import type { TaskRecord } from "../core/task.ts";
import { JournalCorruptError, journalIoError } from "../errors.ts";
import { crc32 } from "./checksum.ts";
import { FILE_MODE } from "./durable-file.ts";
import { checkTask, type JournalDoc } from "./schema.ts";

export type Meta = Pick<JournalDoc, "nextId" | "workers" | "history">;

export type LogEntry = { put: TaskRecord } | { del: string } | { meta: Meta } | { commit: number; crc?: number };

export function metaOf(doc: JournalDoc): Meta {
  return { nextId: doc.nextId, workers: doc.workers, history: doc.history };
}

/** Applies one committed change to the in-memory document. A linear scan is as cheap as keeping
 * an index at the sizes an active set reaches, and claiming scans the set anyway. */
export function apply(doc: JournalDoc, entry: LogEntry): void {
  if ("put" in entry) {
    const at = doc.tasks.findIndex((t) => t.id === entry.put.id);
    if (at === -1) doc.tasks.push(entry.put);
    else doc.tasks[at] = entry.put;
  } else if ("del" in entry) {
    const at = doc.tasks.findIndex((t) => t.id === entry.del);
    if (at !== -1) doc.tasks.splice(at, 1);
  } else if ("meta" in entry) {
    doc.nextId = entry.meta.nextId;
    doc.workers = entry.meta.workers;
    doc.history = entry.meta.history;
  } else {
    doc.rev = entry.commit;
  }
}

function parseEntry(path: string, line: string): LogEntry {
  let entry: LogEntry;
  try {
    entry = JSON.parse(line) as LogEntry;
  } catch (error) {
    throw new JournalCorruptError(path, `a committed log line does not parse: ${(error as Error).message}`);
  }
  if ("put" in entry) {
    const problem = checkTask(entry.put);
    if (problem) throw new JournalCorruptError(path, `a logged task is malformed: ${problem}`);
  }
  return entry;
}

// Lenient decoding would turn bad bytes into U+FFFD and the next compaction would keep the damage.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const COMMIT_PREFIX = Buffer.from('{"commit":');

/** Decodes and parses one log line; bad UTF-8 is corruption, never silently replaced. */
export function parseLine(path: string, line: Buffer): LogEntry {
  let text: string;
  try {
    text = strictUtf8.decode(line);
  } catch {
    throw new JournalCorruptError(path, "it is not valid UTF-8");
  }
  return parseEntry(path, text);
}

/** Why a complete commit line cannot seal what precedes it, or null when it can. */
export function commitProblem(commit: { commit: number; crc?: unknown }, previousRev: number | null, entriesCrc: number): string | null {
  if (typeof commit.commit !== "number" || (previousRev !== null && commit.commit !== previousRev + 1)) {
    return `a commit line says rev ${String(commit.commit)} where rev ${previousRev === null ? "?" : previousRev + 1} comes next`;
  }
  if (commit.crc !== undefined && commit.crc !== entriesCrc) {
    return `the transaction committed as rev ${commit.commit} does not match its checksum (crc ${String(commit.crc)}, its bytes give ${entriesCrc})`;
  }
  return null;
}

/** True when `line` (without its newline) is a commit line. */
export function isCommitLine(line: Buffer): boolean {
  return line.subarray(0, COMMIT_PREFIX.length).equals(COMMIT_PREFIX);
}

/**
 * Replays `bytes` (the log from `doc`'s current position) onto `doc`, a line at a time so a long
 * log never becomes one string. Returns how many bytes were committed: the offset just past the
 * last commit line. A commit whose checksum or rev does not fit is corruption.
 */
export function replay(path: string, doc: JournalDoc, bytes: Buffer): number {
  let pending: LogEntry[] = [];
  let committed = 0;
  let position = 0;
  for (;;) {
    const newline = bytes.indexOf(10, position);
    if (newline === -1) break; // a torn last line: never committed
    const line = bytes.subarray(position, newline);
    if (isCommitLine(line)) {
      const commit = parseLine(path, line) as { commit: number; crc?: number };
      // One native-sized sum per transaction, not one per line.
      const problem = commitProblem(commit, doc.rev, commit.crc === undefined ? 0 : crc32(bytes.subarray(committed, position)));
      if (problem) throw new JournalCorruptError(path, problem);
      for (const entry of pending) apply(doc, entry);
      apply(doc, commit);
      pending = [];
      committed = newline + 1;
    } else {
      pending.push(parseLine(path, line));
    }
    position = newline + 1;
  }
  return committed;
}

/** Reads the log from byte `from` to its end. */
export function readLogFrom(path: string, from: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw journalIoError(path, error);
  }
  try {
    const size = fstatSync(fd).size;
    if (size < from) throw new JournalCorruptError(path, `it is ${size} bytes long but ${from} bytes were committed`);
    const buffer = Buffer.alloc(size - from);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, from + read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Size of the log file now, or -1 when it does not exist. */
export function logSize(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw journalIoError(path, error);
  }
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** Appends one transaction (its entries and a commit line) at `offset`; `durable` syncs it. Returns the new length. */
export function appendTransaction(path: string, offset: number, entries: readonly LogEntry[], rev: number, durable: boolean): number {
  const body = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(""), "utf8");
  const data = Buffer.concat([body, Buffer.from(`${JSON.stringify({ commit: rev, crc: crc32(body) })}\n`, "utf8")]);
  let fd: number | null = null;
  try {
    fd = openSync(path, "r+");
    const stat = fstatSync(fd);
    // A log someone loosened (a copy, a chmod) is tightened by the next write, as every file in the home.
    if ((stat.mode & 0o077) !== 0) fchmodSync(fd, FILE_MODE);
    const size = stat.size;
    if (size > offset) ftruncateSync(fd, offset);
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written, offset + written);
    if (durable) fdatasyncSync(fd);
    return offset + data.length;
  } catch (error) {
    throw journalIoError(path, error);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Creates (or empties) a log file, owner-only and synced. */
export function createLog(path: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(path, "w", FILE_MODE);
    fchmodSync(fd, FILE_MODE);
    fdatasyncSync(fd);
  } catch (error) {
    throw journalIoError(path, error);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
