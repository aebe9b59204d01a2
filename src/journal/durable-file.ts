// A lowdb adapter for journal.json that lowdb's own JSONFile is not: every write goes to a
// unique temp file (O_EXCL, 0600), is fsync'd, renamed over the journal, and the folder is
// fsync'd, so a crash leaves the old or the new file and an acknowledged write survives power
// loss. Reads are strict: a file that does not parse or check is an error, never "empty".
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync, fchmodSync, readFileSync, lstatSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Adapter } from "lowdb";
import { JournalCorruptError, journalIoError } from "../errors.ts";
import { checkDoc, type JournalDoc } from "./schema.ts";
import { crashPoint } from "./crash-points.ts";

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

/** Serialises with `rev` near the front and one task per line: cheap to check, readable by a person. */
export function serialiseDoc(doc: JournalDoc): string {
  const { format, version, rev, log, nextId, history, tasks, workers } = doc;
  const head = JSON.stringify({ format, version, rev, log, nextId, history, workers });
  const taskLines = tasks.map((task) => JSON.stringify(task)).join(",\n");
  return `${head.slice(0, -1)},"tasks":[${tasks.length ? `\n${taskLines}\n` : ""}]}\n`;
}

const REV_PATTERN = /"rev":(\d+)/;
// Lenient decoding would turn bad bytes into U+FFFD and the next write would keep the damage silently.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** The first bytes of a journal file (where serialiseDoc puts rev and log), or null when absent. */
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

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<JournalDoc | null> {
    let text: string;
    try {
      const stat = lstatSync(this.path);
      if (stat.isSymbolicLink()) throw new JournalCorruptError(this.path, "it is a symbolic link, which bgtask refuses to follow");
      if (!stat.isFile()) throw new JournalCorruptError(this.path, "it is not a regular file");
      text = strictUtf8.decode(readFileSync(this.path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        this.readRev = null;
        return null;
      }
      if (error instanceof JournalCorruptError) throw error;
      if ((error as NodeJS.ErrnoException).code === "ERR_ENCODING_INVALID_ENCODED_DATA") {
        throw new JournalCorruptError(this.path, "it is not valid UTF-8");
      }
      throw journalIoError(this.path, error);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new JournalCorruptError(this.path, text.length === 0 ? "it is empty" : `it is not valid JSON: ${(error as Error).message}`);
    }
    const problem = checkDoc(parsed);
    if (problem !== null) throw new JournalCorruptError(this.path, problem);
    const doc = parsed as JournalDoc;
    this.readRev = doc.rev;
    return doc;
  }

  async write(doc: JournalDoc): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
    let fd: number | null = null;
    try {
      fd = openSync(temp, "wx", FILE_MODE);
      fchmodSync(fd, FILE_MODE);
      writeSync(fd, serialiseDoc(doc));
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      crashPoint("temp-written");
      this.checkRevisionUnchanged();
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
      if (error instanceof RevisionConflict) throw error;
      throw journalIoError(this.path, error);
    }
  }

  private checkRevisionUnchanged(): void {
    const onDisk = REV_PATTERN.exec(readHead(this.path) ?? "");
    const current = onDisk ? Number(onDisk[1]) : null;
    if (current !== this.readRev) throw new RevisionConflict(`journal revision moved from ${this.readRev} to ${current}`);
  }
}
