// A lowdb adapter for journal.json that lowdb's own JSONFile is not: every write goes to a
// unique temp file (O_EXCL, 0600), is fsync'd, renamed over the journal, and the folder is
// fsync'd, so a crash leaves the old or the new file and an acknowledged write survives power
// loss. Reads are strict: a file that does not parse or check is an error, never "empty".
// Layout: a head line, one task per line, and a trailer `],"crc":N}` where N is the CRC-32 of
// every byte before the trailer; a file ending in `]}` was written before checksums.
import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
  fchmodSync,
  readFileSync,
  lstatSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Adapter } from "lowdb";
import { JournalCorruptError, journalIoError } from "../../errors.ts";
import { checkDoc, headOf, upgraded, type JournalDoc } from "./schema.ts";
import { crashPoint } from "./crash-points.ts";
import { crc32 } from "./checksum.ts";
import { uniqueName } from "../../host/unique-name.ts";

/** Raised when the file's revision moved between our read and our rename: the caller retries. */
export class RevisionConflict extends Error {}

export const FILE_MODE = 0o600;

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const REV_PATTERN = /"rev":(\d+)/;
// Lenient decoding would turn bad bytes into U+FFFD and the next write would keep the damage silently.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const WRITE_CHUNK = 256 * 1024;

/**
 * Writes `doc` with `rev` near the front and one task per line (cheap to check, readable by a
 * person, parsed a line at a time), in pieces: the whole active set never becomes one string.
 */
function writeDoc(fd: number, doc: JournalDoc): void {
  const { tasks } = doc;
  let piece = `${JSON.stringify(headOf(doc)).slice(0, -1)},"tasks":[\n`;
  let crc = 0;
  const flush = () => {
    const bytes = Buffer.from(piece, "utf8");
    crc = crc32(bytes, crc);
    writeAll(fd, bytes);
    piece = "";
  };
  tasks.forEach((task, i) => {
    piece += JSON.stringify(task) + (i < tasks.length - 1 ? ",\n" : "\n");
    if (piece.length >= WRITE_CHUNK) flush();
  });
  flush();
  writeAll(fd, `],"crc":${crc}}\n`);
}

/**
 * A write(2) may take fewer bytes than it was given (a disk filling up): the rest is written, or its
 * error raised. At `position` when one is given, else at the file's offset.
 */
export function writeAll(fd: number, text: string | Buffer, position: number | null = null): void {
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  for (let written = 0; written < data.length; ) {
    written += writeSync(fd, data, written, data.length - written, position === null ? null : position + written);
  }
}

/**
 * Puts `data` just past the `committed` bytes of an open append-only journal file (`size` long
 * now). A tail beyond them, which the caller has shown nobody committed, is cut first; a write
 * that fails (a full disk) is cut back before its error is raised, so no half-written tail is left
 * for the next writer to judge. Returns the new committed length.
 */
export function appendCommitted(fd: number, committed: number, size: number, data: Buffer, durable: boolean): number {
  if (size > committed) ftruncateSync(fd, committed);
  try {
    writeAll(fd, data, committed);
    if (durable) fdatasyncSync(fd);
  } catch (error) {
    try {
      ftruncateSync(fd, committed);
    } catch {
      // the next writer cuts it, having proved it uncommitted
    }
    throw error;
  }
  return committed + data.length;
}

/** Appends JSON lines (the history, the cold queue) after the committed length, discarding any uncommitted tail first; `durable` syncs them. Returns the new length. */
export function appendLines(path: string, committedBytes: number, lines: readonly string[], durable: boolean): number {
  let fd: number | null = null;
  try {
    fd = openSync(path, "a+", FILE_MODE);
    fchmodSync(fd, FILE_MODE);
    const size = fstatSync(fd).size;
    if (size < committedBytes) {
      throw new JournalCorruptError(path, `it is ${size} bytes long but the journal committed ${committedBytes}`);
    }
    return appendCommitted(fd, committedBytes, size, Buffer.from(lines.join(""), "utf8"), durable);
  } catch (error) {
    if (error instanceof JournalCorruptError) throw error;
    throw journalIoError(path, error);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Parses one JSON line of a journal file strictly: bad UTF-8 or JSON is corruption of `path`, named as `what`. */
export function parseJsonLine(path: string, line: Buffer, what: string): unknown {
  try {
    return JSON.parse(strictUtf8.decode(line));
  } catch (error) {
    const reason = error instanceof TypeError ? "it is not valid UTF-8" : (error as Error).message;
    throw new JournalCorruptError(path, `${what} does not parse: ${reason}`);
  }
}

/** A journal parsed a line at a time, and what its checksum said. */
export interface ParsedByLines {
  doc: unknown;
  /** "absent": written before checksums (a `]}` trailer). */
  crc: "ok" | "mismatch" | "absent";
}

const TRAILER = /^\],"crc":(\d+)\}$/;

/**
 * Parses a journal written by writeDoc a line at a time, so the file never becomes one string;
 * null when it is laid out otherwise (edited by hand, an older writer): the caller parses it whole.
 */
export function parseByLines(bytes: Buffer): ParsedByLines | null {
  const first = bytes.indexOf(10);
  if (first === -1) return null;
  const head = strictUtf8.decode(bytes.subarray(0, first));
  if (!head.endsWith(',"tasks":[')) return null;
  const doc = JSON.parse(`${head}]}`) as { tasks: unknown[] };
  let position = first + 1;
  for (;;) {
    const newline = bytes.indexOf(10, position);
    if (newline === -1) return null;
    const line = bytes.subarray(position, newline);
    const start = position;
    position = newline + 1;
    if (line.length === 2 && line[0] === 0x5d && line[1] === 0x7d) return position === bytes.length ? { doc, crc: "absent" } : null; // "]}"
    if (line[0] === 0x5d) {
      const trailer = TRAILER.exec(line.toString("latin1"));
      if (!trailer || position !== bytes.length) return null;
      return { doc, crc: Number(trailer[1]) === crc32(bytes.subarray(0, start)) ? "ok" : "mismatch" };
    }
    const text = strictUtf8.decode(line);
    doc.tasks.push(JSON.parse(text.endsWith(",") ? text.slice(0, -1) : text));
  }
}

/** The first bytes of a journal file (where writeDoc puts rev and log), or null when absent. */
export function readHead(path: string, bytes = 256): string | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, 0)).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export class DurableJsonFile implements Adapter<JournalDoc> {
  readonly path: string;
  /** The revision seen by the last read; writes check the file still has it. */
  private readRev: number | null = null;
  /** Last word before the rename: throws when the write must not land. */
  private readonly beforeRename: (() => void) | undefined;

  constructor(path: string, beforeRename?: () => void) {
    this.path = path;
    this.beforeRename = beforeRename;
  }

  async read(): Promise<JournalDoc | null> {
    let bytes: Buffer;
    try {
      const stat = lstatSync(this.path);
      if (stat.isSymbolicLink()) throw new JournalCorruptError(this.path, "it is a symbolic link, which bgtask refuses to follow");
      if (!stat.isFile()) throw new JournalCorruptError(this.path, "it is not a regular file");
      bytes = readFileSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        this.readRev = null;
        return null;
      }
      if (error instanceof JournalCorruptError) throw error;
      throw journalIoError(this.path, error);
    }
    let parsed: ParsedByLines | null;
    try {
      parsed = parseByLines(bytes);
    } catch {
      // Whatever is wrong, the whole-file parse below names it.
      parsed = null;
    }
    const doc = parsed ? parsed.doc : this.parseWhole(bytes);
    const problem = checkDoc(doc);
    if (problem !== null) throw new JournalCorruptError(this.path, problem);
    if (parsed?.crc === "mismatch") throw new JournalCorruptError(this.path, "its bytes do not match its checksum");
    // A checksum we could not check: the file was re-laid out (or a newline was damaged).
    if (!parsed && "crc" in (doc as object)) throw new JournalCorruptError(this.path, "it carries a checksum but is not laid out as bgtask writes it");
    this.readRev = (doc as JournalDoc).rev;
    return upgraded(doc as JournalDoc);
  }

  private parseWhole(bytes: Buffer): unknown {
    let text: string;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      throw new JournalCorruptError(this.path, "it is not valid UTF-8");
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new JournalCorruptError(this.path, text.length === 0 ? "it is empty" : `it is not valid JSON: ${(error as Error).message}`);
    }
  }

  async write(doc: JournalDoc): Promise<void> {
    replaceDoc(this.path, doc, () => {
      this.checkRevisionUnchanged();
      this.beforeRename?.();
    });
    this.readRev = doc.rev;
  }

  /** Arms the check a write makes before its rename with the revision on disk now, from the file's head alone. */
  expectCurrent(): void {
    this.readRev = this.revisionOnDisk();
  }

  private revisionOnDisk(): number | null {
    const onDisk = REV_PATTERN.exec(readHead(this.path) ?? "");
    return onDisk ? Number(onDisk[1]) : null;
  }

  private checkRevisionUnchanged(): void {
    const current = this.revisionOnDisk();
    if (current !== this.readRev) throw new RevisionConflict(`journal revision moved from ${this.readRev} to ${current}`);
  }
}

/**
 * Puts `doc` in place of the journal at `path`: unique temp file, fsync, `beforeRename` (which may
 * throw to call it off), rename, fsync of the folder. The renamed file is never half written.
 */
export function replaceDoc(path: string, doc: JournalDoc, beforeRename: () => void = () => {}): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${uniqueName()}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(temp, "wx", FILE_MODE);
    fchmodSync(fd, FILE_MODE);
    writeDoc(fd, doc);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    crashPoint("temp-written");
    beforeRename();
    renameSync(temp, path);
    crashPoint("renamed");
    fsyncDir(dir);
  } catch (error) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // already renamed into place, or never created
    }
    if (error instanceof RevisionConflict || !(error as NodeJS.ErrnoException).code) throw error;
    throw journalIoError(path, error);
  }
}
