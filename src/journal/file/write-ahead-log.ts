// The journal's write-ahead log: every change to the active set is appended as JSON lines and
// sealed by a commit line, so a change costs what it changed, not the size of the journal.
// Lines after the last commit belong to a writer that died mid-append: readers ignore them and
// the next writer cuts them off. A commit line `{"commit":rev,"crc":N}` carries the CRC-32 of its
// transaction's entry lines (their bytes, newlines included); revs follow one another from the
// snapshot's. A commit line without "crc" was written before checksums and is taken on trust.
import { closeSync, fchmodSync, fdatasyncSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import type { TaskRecord } from "../../core/task.ts";
import { JournalCorruptError, journalIoError } from "../../errors.ts";
import { crc32 } from "./checksum.ts";
import { addCounters, type Counters, isCounters } from "../../core/counters.ts";
import { isNewEvent, type NewEvent } from "../../core/events.ts";
import { appendCommitted, FILE_MODE } from "./durable-file.ts";
import { applyState, checkTask, stateOf, stateProblem, type JournalDoc, type JournalState } from "./schema.ts";

/** The journal's state as of a transaction; a version 1 journal's meta entries have no queue. */
export type Meta = Omit<JournalState, "queue"> & { queue?: JournalState["queue"] };

/** `count`: what a transaction added to the journal's counters (core/counters.ts); `events`: its events (core/events.ts), in order. */
export type LogEntry = { put: TaskRecord } | { del: string } | { meta: Meta } | { count: Counters } | { events: NewEvent[] } | { commit: number; crc?: number };

/** The events of one committed transaction, with its rev: an event's cursor is its rev and its place among them. */
export interface LoggedEvents {
  rev: number;
  events: NewEvent[];
}

export function metaOf(doc: JournalDoc): Meta {
  return stateOf(doc);
}

/**
 * Applies committed changes to the in-memory document. Tasks are found through an id → position
 * map made on first use, so catching up on a bulk enqueue costs what it changed plus one pass over
 * the active set: looking each one up by a scan made it quadratic, and a worker catching up held
 * the lock long enough to lose it (issue 10; figures in docs/README-performance.md).
 */
export class Applier {
  private readonly doc: JournalDoc;
  private positions: Map<string, number> | null = null;
  private removed = false;

  constructor(doc: JournalDoc) {
    this.doc = doc;
  }

  get rev(): number {
    return this.doc.rev;
  }

  private index(): Map<string, number> {
    if (this.positions === null) {
      this.positions = new Map();
      for (const [i, task] of this.doc.tasks.entries()) this.positions.set(task.id, i);
    }
    return this.positions;
  }

  apply(entry: LogEntry): void {
    const { doc } = this;
    if ("put" in entry) {
      const index = this.index();
      const at = index.get(entry.put.id);
      if (at === undefined) {
        index.set(entry.put.id, doc.tasks.length);
        doc.tasks.push(entry.put);
      } else doc.tasks[at] = entry.put;
    } else if ("del" in entry) {
      const index = this.index();
      const at = index.get(entry.del);
      if (at !== undefined) {
        // A hole until finish(): positions after it stay right.
        (doc.tasks as Array<TaskRecord | null>)[at] = null;
        index.delete(entry.del);
        this.removed = true;
      }
    } else if ("meta" in entry) {
      applyState(doc, entry.meta);
    } else if ("count" in entry) {
      doc.counters ??= {};
      addCounters(doc.counters, entry.count);
    } else if ("events" in entry) {
      // Kept beside the document (replay's `events`), not in it.
    } else {
      doc.rev = entry.commit;
    }
  }

  /** Closes the holes deletions left, keeping the order of the rest. */
  finish(): void {
    if (this.removed) this.doc.tasks = this.doc.tasks.filter((task) => task !== null);
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
  } else if ("meta" in entry) {
    const problem = stateProblem(entry.meta);
    if (problem) throw new JournalCorruptError(path, `a logged ${problem} is malformed`);
  } else if ("count" in entry && !isCounters(entry.count)) {
    throw new JournalCorruptError(path, "a logged count is malformed");
  } else if ("events" in entry && !(Array.isArray(entry.events) && entry.events.every(isNewEvent))) {
    throw new JournalCorruptError(path, "a logged event is malformed");
  }
  return entry;
}

// Lenient decoding would turn bad bytes into U+FFFD and the next compaction would keep the damage.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const COMMIT_PREFIX = Buffer.from('{"commit":');

/** Decodes and parses one log line; bad UTF-8 is corruption, never silently replaced. */
function parseLine(path: string, line: Buffer): LogEntry {
  let text: string;
  try {
    text = strictUtf8.decode(line);
  } catch {
    throw new JournalCorruptError(path, "it is not valid UTF-8");
  }
  return parseEntry(path, text);
}

/** Why a complete commit line cannot seal what precedes it, or null when it can. */
function commitProblem(commit: { commit: number; crc?: unknown }, previousRev: number | null, entriesCrc: number): string | null {
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

/** One committed transaction of the log: its entries, its commit line, and the offset just past it. */
export interface CommittedTransaction {
  entries: LogEntry[];
  commit: { commit: number; crc?: number };
  end: number;
}

/**
 * The committed transactions in `bytes` (the log from a commit boundary), in order, a line at a
 * time so a long log never becomes one string. Each is checked: its rev follows the one before
 * (from `previousRev`, when known) and its checksum fits; the first line or commit that does not
 * check throws JournalCorruptError. A last line without its newline was never committed, unless
 * `tornCommit` (the caller's judgement of those bytes: doctor's, with the mark) takes it.
 */
export function* transactions(
  path: string,
  bytes: Buffer,
  previousRev: number | null,
  tornCommit?: (rest: Buffer) => boolean,
): Generator<CommittedTransaction> {
  let entries: LogEntry[] = [];
  let start = 0;
  let position = 0;
  let rev = previousRev;
  while (position < bytes.length) {
    let newline = bytes.indexOf(10, position);
    if (newline === -1) {
      if (!tornCommit?.(bytes.subarray(position))) return;
      newline = bytes.length;
    }
    const line = bytes.subarray(position, newline);
    const lineStart = position;
    position = newline + 1;
    if (!isCommitLine(line)) {
      entries.push(parseLine(path, line));
      continue;
    }
    const commit = parseLine(path, line) as { commit: number; crc?: number };
    // One native-sized sum per transaction, not one per line.
    const problem = commitProblem(commit, rev, commit.crc === undefined ? 0 : crc32(bytes.subarray(start, lineStart)));
    if (problem) throw new JournalCorruptError(path, problem);
    const end = Math.min(position, bytes.length);
    yield { entries, commit, end };
    entries = [];
    start = end;
    rev = commit.commit;
  }
}

/**
 * Replays `bytes` (the log from `doc`'s current position) onto `doc`. Returns how many bytes were
 * committed: the offset just past the last commit line.
 */
/** Adds the events of committed transaction `tx`, if it logged any, to `events`. */
export function keepEvents(events: LoggedEvents[], tx: CommittedTransaction): void {
  const logged = tx.entries.flatMap((entry) => ("events" in entry ? entry.events : []));
  if (logged.length > 0) events.push({ rev: tx.commit.commit, events: logged });
}

export function replay(path: string, doc: JournalDoc, bytes: Buffer, events?: LoggedEvents[]): number {
  const applier = new Applier(doc);
  let committed = 0;
  try {
    for (const tx of transactions(path, bytes, doc.rev)) {
      for (const entry of tx.entries) applier.apply(entry);
      applier.apply(tx.commit);
      committed = tx.end;
      if (events) keepEvents(events, tx);
    }
  } finally {
    applier.finish();
  }
  return committed;
}

/** True when `bytes` hold a complete commit line: what replay would take as committed. */
export function containsCommit(bytes: Buffer): boolean {
  for (let position = 0; ; ) {
    const newline = bytes.indexOf(10, position);
    if (newline === -1) return false;
    if (isCommitLine(bytes.subarray(position, newline))) return true;
    position = newline + 1;
  }
}

/** Opens a log for reading: what it holds stays readable through the fd after a compaction unlinks it. */
export function openLog(path: string): number {
  try {
    return openSync(path, "r");
  } catch (error) {
    throw journalIoError(path, error);
  }
}

/** Reads the log from byte `from` to its end. */
export function readLogFrom(path: string, from: number): Buffer {
  const fd = openLog(path);
  try {
    return readOpenLog(path, fd, from);
  } finally {
    closeSync(fd);
  }
}

/** Reads the log open as `fd` (at `path`) from byte `from` to its end. */
export function readOpenLog(path: string, fd: number, from: number): Buffer {
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
}

/** Size of the log file now, or -1 when it does not exist. */
export function logSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return -1;
    throw journalIoError(path, error);
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
    return appendCommitted(fd, offset, stat.size, data, durable);
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
