// The id → offset index of one archive file (history.jsonl → history.idx, history.2.jsonl →
// history.2.idx): it turns finding an old task from a scan of the whole history into two reads.
// It is a cache, never a source of truth: every answer is checked against the committed history,
// and whatever it cannot vouch for (missing, short, garbled, behind, ahead of a crashed writer)
// falls back to the scan; a writer that finds it unusable rebuilds it. An index can cost time,
// never a wrong answer or an unreadable journal.
//
// Layout: a 24-byte header — magic, how many history bytes the entries cover, the highest id
// indexed — then entry k (ids are dense decimals from doc.nextId) at 24 + 8·(k−1): 1 + the offset
// of task k's newest line (a tombstone included, so removal hides older lines); 0 = not indexed.
// Writers (under the journal lock) write entries first and the header last, so the covered
// length never runs ahead of entries on disk; readers scan the uncovered tail of the history.
import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { FILE_MODE } from "./durable-file.ts";
import { findInHistory, linePrefix, openForReading, parseHistoryLine, type HistoryEntry } from "./archive.ts";

const MAGIC = Buffer.from("bgtidx01");
const HEADER = 24;
const ENTRY = 8;
const CHUNK = 1024 * 1024;
/** Ids above this are not indexed (the file would be absurdly sparse); they are found by the scan. */
const MAX_ID = 2 ** 40;

interface Header {
  covered: number;
  maxId: number;
}

/** The index file of a history file. */
export function indexPathOf(historyPath: string): string {
  return historyPath.replace(/\.jsonl$/, "") + ".idx";
}

function indexNumber(id: string): number | null {
  if (!/^[1-9][0-9]{0,12}$/.test(id)) return null;
  const k = Number(id);
  return k <= MAX_ID ? k : null;
}

function entryAt(k: number): number {
  return HEADER + ENTRY * (k - 1);
}

function readExactly(fd: number, length: number, position: number): Buffer | null {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, position + read);
    if (n === 0) return null;
    read += n;
  }
  return buffer;
}

function readHeader(fd: number): Header | null {
  const bytes = readExactly(fd, HEADER, 0);
  if (!bytes || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const covered = Number(bytes.readBigUInt64LE(8));
  const maxId = Number(bytes.readBigUInt64LE(16));
  if (!Number.isSafeInteger(covered) || maxId > MAX_ID) return null;
  return { covered, maxId };
}

/** True when `offset` starts a line of the history (0, or just past a newline). */
function isLineStart(fd: number, offset: number): boolean {
  if (offset === 0) return true;
  const before = readExactly(fd, 1, offset - 1);
  return before !== null && before[0] === 10;
}

// ---- reading ------------------------------------------------------------------------------

/** Header and entry for task k, or null when the index is absent or unreadable. */
function lookup(historyPath: string, k: number): { header: Header; offset: number | null } | null {
  let fd: number;
  try {
    fd = openSync(indexPathOf(historyPath), "r");
  } catch {
    return null;
  }
  try {
    const header = readHeader(fd);
    if (!header) return null;
    const entry = k <= header.maxId ? readExactly(fd, ENTRY, entryAt(k)) : null;
    const value = entry ? Number(entry.readBigUInt64LE(0)) : 0;
    return { header, offset: value > 0 && Number.isSafeInteger(value) ? value - 1 : null };
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The line of the history at `offset` if it is a whole committed line for `id`, else null. */
function lineAt(fd: number, offset: number, limit: number, prefix: Buffer): Buffer | null {
  if (offset + prefix.length >= limit || !isLineStart(fd, offset)) return null;
  const parts: Buffer[] = [];
  for (let position = offset, size = 4096; position < limit; position += size, size *= 2) {
    const chunk = readExactly(fd, Math.min(size, limit - position), position);
    if (!chunk) return null;
    if (position === offset && !chunk.subarray(0, prefix.length).equals(prefix)) return null;
    const nl = chunk.indexOf(10);
    if (nl !== -1) {
      parts.push(chunk.subarray(0, nl));
      return Buffer.concat(parts);
    }
    parts.push(chunk);
  }
  return null;
}

/**
 * The newest history entry for `id` within the committed bytes: through the index when it can
 * vouch for the answer, else by the scan. The same answer as findInHistory, in two reads.
 */
export function findIndexed(historyPath: string, committedBytes: number, id: string): HistoryEntry | null {
  if (committedBytes === 0) return null;
  const k = indexNumber(id);
  const found = k === null ? null : lookup(historyPath, k);
  if (found === null) return findInHistory(historyPath, committedBytes, id);
  // Past the committed length the index speaks for a writer that died before committing: ignore that part.
  const covered = Math.min(found.header.covered, committedBytes);
  const fd = openForReading(historyPath);
  let line: Buffer | null = null;
  try {
    // The committed length always ends a line; a covered length short of it must too.
    if (covered < committedBytes && !isLineStart(fd, covered)) return findInHistory(historyPath, committedBytes, id);
    if (found.offset !== null && found.offset < covered) line = lineAt(fd, found.offset, covered, linePrefix(id));
  } finally {
    closeSync(fd);
  }
  // Lines the index does not cover yet may hold a newer entry.
  const newer = findInHistory(historyPath, committedBytes, id, covered);
  if (newer) return newer;
  return line ? parseHistoryLine(historyPath, line) : findInHistory(historyPath, covered, id);
}

// ---- writing ------------------------------------------------------------------------------

/** Calls `visit(id, offset)` for every line in [from, to) of the history, forward; from is a line start. */
function forEachLineId(fd: number, from: number, to: number, visit: (k: number | null, offset: number) => void): void {
  const buffer = Buffer.alloc(CHUNK);
  let position = from;
  let inLine = false; // the chunk starts in the middle of a line longer than a chunk
  while (position < to) {
    const length = readSync(fd, buffer, 0, Math.min(CHUNK, to - position), position);
    if (length === 0) throw new Error("history shorter than its committed length");
    const chunk = buffer.subarray(0, length);
    let at = 0;
    if (inLine) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        position += length;
        continue;
      }
      at = nl + 1;
      inLine = false;
    }
    while (at < length) {
      const nl = chunk.indexOf(10, at);
      if (nl === -1 && position + length < to && at > 0) break; // read this line again from its start
      const head = /^\{"id":"([1-9][0-9]*)",/.exec(chunk.toString("latin1", at, Math.min(length, at + 32)));
      visit(head ? indexNumber(head[1]!) : null, position + at);
      if (nl === -1) {
        inLine = true;
        at = length;
        break;
      }
      at = nl + 1;
    }
    position += at;
  }
}

/** Writes entries (id → offset) in runs of consecutive ids, one write per run. */
function writeEntries(fd: number, offsets: Map<number, number>): void {
  const ids = [...offsets.keys()].sort((a, b) => a - b);
  for (let i = 0; i < ids.length; ) {
    let j = i + 1;
    while (j < ids.length && ids[j] === ids[j - 1]! + 1) j++;
    const run = Buffer.alloc(ENTRY * (j - i));
    for (let n = i; n < j; n++) run.writeBigUInt64LE(BigInt(offsets.get(ids[n]!)! + 1), ENTRY * (n - i));
    writeSync(fd, run, 0, run.length, entryAt(ids[i]!));
    i = j;
  }
}

/**
 * Records lines just appended to the history at [start, start + Σ lines) for `ids` (in order).
 * When the index does not cover exactly `start` (missing, short, garbled, behind, or ahead of a
 * writer that died) it is brought up to date from the history first. Call under the journal lock.
 * Never throws: an index left behind is found out by the next reader and rebuilt by the next writer.
 */
export function indexAppended(historyPath: string, start: number, ids: readonly string[], lineBytes: readonly number[], durable: boolean): void {
  if (ids.length === 0) return;
  let fd: number | null = null;
  try {
    fd = openSync(indexPathOf(historyPath), constants.O_RDWR | constants.O_CREAT, FILE_MODE);
    const header = readHeader(fd);
    const usable =
      header !== null &&
      header.covered <= start &&
      fstatSync(fd).size >= entryAt(header.maxId + 1) &&
      // The committed length always ends a line; anything short of it must too.
      (header.covered === start || isCoveredLineStart(historyPath, header.covered));
    const from = usable ? header.covered : 0;
    let maxId = usable ? header.maxId : 0;
    if (!usable) ftruncateSync(fd, 0);
    const offsets = new Map<number, number>();
    const note = (k: number | null, offset: number) => {
      if (k === null) return;
      offsets.set(k, offset);
      if (k > maxId) maxId = k;
    };
    if (from < start) {
      const history = openForReading(historyPath);
      try {
        forEachLineId(history, from, start, note);
      } finally {
        closeSync(history);
      }
    }
    let offset = start;
    ids.forEach((id, i) => {
      note(indexNumber(id), offset);
      offset += lineBytes[i]!;
    });
    writeEntries(fd, offsets);
    const head = Buffer.alloc(HEADER);
    MAGIC.copy(head);
    head.writeBigUInt64LE(BigInt(offset), 8);
    head.writeBigUInt64LE(BigInt(maxId), 16);
    writeSync(fd, head, 0, HEADER, 0);
    if (durable) fdatasyncSync(fd);
  } catch {
    // The header was not moved past entries that failed to land: readers stay correct.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

function isCoveredLineStart(historyPath: string, offset: number): boolean {
  const fd = openForReading(historyPath);
  try {
    return isLineStart(fd, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * The whole index as written, for `bgtask doctor`: how much of the history it covers and each
 * task's entry (offset + 1, or 0); "absent" or "garbled" when there is no usable header.
 */
export function readIndexFile(historyPath: string): { covered: number; maxId: number; entries: number[]; truncated: boolean } | "absent" | "garbled" {
  let fd: number;
  try {
    fd = openSync(indexPathOf(historyPath), "r");
  } catch {
    return "absent";
  }
  try {
    const header = readHeader(fd);
    if (!header) return "garbled";
    const size = fstatSync(fd).size;
    const available = Math.max(0, Math.min(header.maxId, Math.floor((size - HEADER) / ENTRY)));
    const bytes = readExactly(fd, available * ENTRY, HEADER) ?? Buffer.alloc(0);
    const entries: number[] = [];
    for (let k = 0; k < available; k++) entries.push(Number(bytes.readBigUInt64LE(k * ENTRY)));
    return { covered: header.covered, maxId: header.maxId, entries, truncated: available < header.maxId };
  } finally {
    closeSync(fd);
  }
}
