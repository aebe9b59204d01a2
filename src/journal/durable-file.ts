// A lowdb adapter for journal.json that lowdb's own JSONFile is not: every write goes to a
// unique temp file (O_EXCL, 0600), is fsync'd, renamed over the journal, and the folder is
// fsync'd, so a crash leaves the old or the new file and an acknowledged write survives power
// loss. Reads are strict: a file that does not parse or check is an error, never "empty".
import { closeSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync, fchmodSync, readFileSync, lstatSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Adapter } from "lowdb";
import { JournalCorruptError, journalIoError } from "../errors.ts";
import { checkDoc, type JournalDoc } from "./schema.ts";
import { crashPoint } from "./crash-points.ts";
import { uniqueName } from "../host/unique-name.ts";

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
  const { format, version, rev, log, nextId, history, tasks, workers } = doc;
  const head = JSON.stringify({ format, version, rev, log, nextId, history, workers });
  let piece = `${head.slice(0, -1)},"tasks":[${tasks.length ? "\n" : ""}`;
  tasks.forEach((task, i) => {
    piece += JSON.stringify(task) + (i < tasks.length - 1 ? ",\n" : "\n");
    if (piece.length >= WRITE_CHUNK) {
      writeAll(fd, piece);
      piece = "";
    }
  });
  writeAll(fd, `${piece}]}\n`);
}

/** A write(2) may take fewer bytes than it was given (a disk filling up): the rest is written, or its error raised. */
export function writeAll(fd: number, text: string | Buffer): void {
  const data = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  for (let written = 0; written < data.length; ) written += writeSync(fd, data, written, data.length - written);
}

/**
 * Parses a journal written by writeDoc a line at a time, so the file never becomes one string;
 * null when it is laid out otherwise (edited by hand, an older writer): the caller parses it whole.
 */
function parseByLines(bytes: Buffer): unknown {
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
    position = newline + 1;
    if (line.length === 2 && line[0] === 0x5d && line[1] === 0x7d) break; // "]}"
    const text = strictUtf8.decode(line);
    doc.tasks.push(JSON.parse(text.endsWith(",") ? text.slice(0, -1) : text));
  }
  return position === bytes.length ? doc : null;
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
    let parsed: unknown;
    try {
      parsed = parseByLines(bytes);
    } catch {
      // Whatever is wrong, the whole-file parse below names it.
      parsed = null;
    }
    if (parsed === null) parsed = this.parseWhole(bytes);
    const problem = checkDoc(parsed);
    if (problem !== null) throw new JournalCorruptError(this.path, problem);
    const doc = parsed as JournalDoc;
    this.readRev = doc.rev;
    return doc;
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
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${uniqueName()}.tmp`);
    let fd: number | null = null;
    try {
      fd = openSync(temp, "wx", FILE_MODE);
      fchmodSync(fd, FILE_MODE);
      writeDoc(fd, doc);
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      crashPoint("temp-written");
      this.checkRevisionUnchanged();
      this.beforeRename?.();
      renameSync(temp, this.path);
      crashPoint("renamed");
      fsyncDir(dir);
      this.readRev = doc.rev;
    } catch (error) {
      if (fd !== null) closeSync(fd);
      try {
        unlinkSync(temp);
      } catch {
        // already renamed into place, or never created
      }
      if (error instanceof RevisionConflict || !(error as NodeJS.ErrnoException).code) throw error;
      throw journalIoError(this.path, error);
    }
  }

  private checkRevisionUnchanged(): void {
    const onDisk = REV_PATTERN.exec(readHead(this.path) ?? "");
    const current = onDisk ? Number(onDisk[1]) : null;
    if (current !== this.readRev) throw new RevisionConflict(`journal revision moved from ${this.readRev} to ${current}`);
  }
}
