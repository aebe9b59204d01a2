// The file journal's task output (task-output.ts): a log file per task under <home>/logs/ and a
// folder of attachments per task under <home>/attachments/, owner-only. Logs are append-only and
// never hold a torn line; attachment names are checked, never joined blindly, and a file is
// written beside its final name and renamed over it, so a planted symlink is replaced, never
// followed, and a reader sees the old content or the new, never half of it.
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Attachment } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { watchFile } from "../../host/file-watch.ts";
import { ensurePrivateDir, taskAttachmentsDir, taskLogPath } from "../../host/home.ts";
import { uniqueName } from "../../host/unique-name.ts";
import type { AttachmentSource, LogReader, LogWriter, StoredAttachment, TaskOutput } from "../task-output.ts";

const CHUNK = 1024 * 1024;

/** Log folders this process has checked (created, owned, not a symlink): checked once, not per task. */
const checkedDirs = new Set<string>();

function openLog(path: string): number {
  const dir = dirname(path);
  if (!checkedDirs.has(dir)) {
    ensurePrivateDir(dir);
    checkedDirs.add(dir);
  }
  let fd: number;
  try {
    fd = openSync(path, "a", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    // The folder was removed since it was checked: make it again.
    ensurePrivateDir(dir);
    fd = openSync(path, "a", 0o600);
  }
  // An existing log (an earlier try's) is tightened if someone loosened it.
  fchmodSync(fd, 0o600);
  return fd;
}

/** Appends all of `text` or, failing partway, cuts off what it wrote: the log never holds a torn line. */
function appendWhole(fd: number, text: string): void {
  const data = Buffer.from(text);
  let written = 0;
  try {
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
  } catch (error) {
    if (written > 0) {
      try {
        ftruncateSync(fd, fstatSync(fd).size - written);
      } catch {
        // the reader skips a line not in the format
      }
    }
    throw error;
  }
}

function openIfPresent(path: string): number | null {
  try {
    return openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

class FileLogWriter implements LogWriter {
  private readonly path: string;
  private fd: number | null = null;

  constructor(path: string) {
    this.path = path;
  }

  append(text: string): void {
    this.fd ??= openLog(this.path);
    appendWhole(this.fd, text);
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // closed or not, this log is done
      }
    }
    this.fd = null;
  }
}

/** Reads what was appended since the last call, as whole lines (a line still being written waits for its newline). */
class FileLogReader implements LogReader {
  private readonly path: string;
  private offset = 0;
  private rest = Buffer.alloc(0);

  constructor(path: string) {
    this.path = path;
  }

  async readNew(onText: (text: string) => void): Promise<void> {
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
        await onText(data.subarray(0, end + 1).toString("utf8"));
      }
    } finally {
      closeSync(fd);
    }
  }
}

export class FileTaskOutput implements TaskOutput {
  readonly logBatch = null;
  private readonly home: string;

  constructor(home: string) {
    this.home = home;
  }

  logWriter(taskId: string): LogWriter {
    return new FileLogWriter(taskLogPath(this.home, taskId));
  }

  logReader(taskId: string): LogReader {
    return new FileLogReader(taskLogPath(this.home, taskId));
  }

  async logTail(taskId: string, _count: number, maxBytes: number): Promise<{ text: string; cut: boolean }> {
    const fd = openIfPresent(taskLogPath(this.home, taskId));
    if (fd === null) return { text: "", cut: false };
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(0, size - maxBytes);
      const buffer = Buffer.alloc(size - start);
      const read = readSync(fd, buffer, 0, buffer.length, start);
      return { text: buffer.subarray(0, read).toString("utf8"), cut: start > 0 };
    } finally {
      closeSync(fd);
    }
  }

  watchLog(taskId: string, onAppend: () => void): { close(): void } {
    return watchFile(taskLogPath(this.home, taskId), onAppend);
  }

  attachmentPath(taskId: string, name: string): string {
    return join(taskAttachmentsDir(this.home, taskId), name);
  }

  async putAttachment(taskId: string, name: string, source: AttachmentSource): Promise<Attachment> {
    const dir = taskAttachmentsDir(this.home, taskId);
    ensurePrivateDir(dirname(dir));
    ensurePrivateDir(dir);
    const path = this.attachmentPath(taskId, name);
    const temp = join(dir, `.bgtask-${uniqueName()}.tmp`);
    try {
      if (typeof source === "string" || source instanceof Uint8Array) writeFileSync(temp, source, { mode: 0o600, flag: "wx" });
      else if ("path" in source) copyFileSync(source.path, temp, constants.COPYFILE_EXCL);
      else await pipeline(source.chunks, createWriteStream(temp, { mode: 0o600, flags: "wx" }));
      chmodSync(temp, 0o600);
      renameSync(temp, path);
    } catch (error) {
      try {
        unlinkSync(temp);
      } catch {
        // never created
      }
      throw error;
    }
    return { name, path, size: statSync(path).size };
  }

  /** Only a file the record names, under the task's own folder as a regular file (not a symlink, not elsewhere), whatever the record says. */
  async openAttachment(taskId: string, attachment: Attachment): Promise<StoredAttachment> {
    const dir = taskAttachmentsDir(this.home, taskId);
    const path = join(dir, basename(attachment.name));
    const stat = (() => {
      try {
        return lstatSync(path);
      } catch {
        return null;
      }
    })();
    if (dirname(path) !== dir || stat === null || !stat.isFile())
      throw new UsageError(`the file of attachment ${JSON.stringify(attachment.name)} of task ${taskId} is missing from ${dir}`, { code: "ENOATTACHMENT" });
    return {
      name: attachment.name,
      size: stat.size,
      open: () => createReadStream(path, { fd: openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW) }),
    };
  }

  removeTasks(ids: readonly string[]): void {
    for (const id of ids) {
      rmSync(taskLogPath(this.home, id), { force: true });
      rmSync(taskAttachmentsDir(this.home, id), { recursive: true, force: true });
    }
  }
}
