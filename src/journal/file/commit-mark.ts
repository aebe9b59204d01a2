// journal.mark: the newest commit known to be on disk, so a log that was cut or emptied (or a
// journal.json put back from an older copy) is found out instead of silently dropping acknowledged
// tasks and handing their ids out again. Written only after a synced log append or snapshot, so
// the journal on disk is always at least as far as the mark; readers read it before the journal.
//
// Layout: 128 bytes at offset 0, rewritten in place (pwrite, no fsync: a mark lost to a power cut
// only weakens the check), `{"rev":R,"log":"journal.G.log","bytes":B,"nextId":K,"crc":C}` padded
// with spaces and ended by a newline; C is the CRC-32 of the same JSON without its "crc" field.
import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { JournalCorruptError } from "../../errors.ts";
import { crc32 } from "./checksum.ts";
import { FILE_MODE } from "./durable-file.ts";
import type { JournalDoc } from "./schema.ts";

export const MARK_FILE = "journal.mark";
export const MARK_BYTES = 128;

/** The newest commit that was synced: its rev, the log holding it and that log's committed length. */
export interface CommitMark {
  rev: number;
  log: string;
  bytes: number;
  /** nextId as of that commit: every id below it was handed out. */
  nextId: number;
}

function body(mark: CommitMark): string {
  return JSON.stringify({ rev: mark.rev, log: mark.log, bytes: mark.bytes, nextId: mark.nextId });
}

export function markPath(dir: string): string {
  return join(dir, MARK_FILE);
}

/**
 * Records `mark`. Never throws: the commit it follows is on disk already, and a mark left behind
 * (older) only makes the check weaker, never wrong.
 */
export function writeMark(dir: string, mark: CommitMark): void {
  const text = body(mark);
  const line = `${text.slice(0, -1)},"crc":${crc32(text)}}`;
  if (line.length >= MARK_BYTES) return;
  const bytes = Buffer.from(`${line.padEnd(MARK_BYTES - 1, " ")}\n`, "latin1");
  let fd: number | null = null;
  try {
    fd = openSync(markPath(dir), constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, FILE_MODE);
    writeSync(fd, bytes, 0, bytes.length, 0);
  } catch {
    // see above
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** The mark as written, or null when there is none yet (a journal older than marks, or a fresh home). */
export function readMark(dir: string): CommitMark | null {
  const path = markPath(dir);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new JournalCorruptError(
      path,
      code === "ELOOP" ? "it is a symbolic link, which bgtask refuses to follow" : `it cannot be opened (${code ?? "error"})`,
    );
  }
  const buffer = Buffer.alloc(MARK_BYTES + 1);
  let length: number;
  try {
    length = readSync(fd, buffer, 0, buffer.length, 0);
  } catch (error) {
    throw new JournalCorruptError(path, `it cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  } finally {
    closeSync(fd);
  }
  return parseMark(path, buffer.subarray(0, length));
}

/** Parses a mark's bytes; null for an empty (never written, or zeroed by a crash) mark. */
export function parseMark(path: string, bytes: Buffer): CommitMark | null {
  if (bytes.every((b) => b === 0 || b === 0x20 || b === 10)) return null;
  const problem = `it is not a commit mark bgtask wrote (${MARK_BYTES} bytes of JSON with a checksum)`;
  if (bytes.length !== MARK_BYTES) throw new JournalCorruptError(path, problem);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(bytes.toString("latin1")) as Record<string, unknown>;
  } catch {
    throw new JournalCorruptError(path, problem);
  }
  const { rev, log, bytes: logBytes, nextId, crc } = parsed;
  const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!isCount(rev) || typeof log !== "string" || !/^journal\.\d+\.log$/.test(log) || !isCount(logBytes) || !isCount(nextId)) {
    throw new JournalCorruptError(path, problem);
  }
  const mark = { rev, log, bytes: logBytes, nextId };
  if (crc !== crc32(body(mark))) throw new JournalCorruptError(path, "its bytes do not match its checksum");
  return mark;
}

/** Why the replayed journal falls short of the mark, or null when it does not. */
export function markShortfall(mark: CommitMark | null, doc: Pick<JournalDoc, "rev">): string | null {
  if (mark === null || doc.rev >= mark.rev) return null;
  return `commits up to rev ${mark.rev} were acknowledged but the log ends at rev ${doc.rev}: it was cut or emptied`;
}

/** Throws, naming the log, when the replayed journal falls short of the mark read before it. */
export function checkMark(mark: CommitMark | null, logPath: string, doc: Pick<JournalDoc, "rev">): void {
  const shortfall = markShortfall(mark, doc);
  if (shortfall) throw new JournalCorruptError(logPath, shortfall);
}
