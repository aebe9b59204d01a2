// What a task leaves besides its record: its log (whole lines in core/log-line.ts's format) and
// its attachments, kept where its journal keeps them. Each journal kind provides one through
// JournalStore.taskOutput: files in the bgtask home for the file journal (and the memory store),
// rows beside the tasks for PostgreSQL, so that any host reads what a worker on another wrote.
//
// A seam of its own rather than more JournalStore operations, because it keeps none of the
// store's promises: it is bulk bytes, not records; a log line is written while a try runs and must
// never wait on the journal's lock nor fail a task's transition; and the file journal's logs are
// no part of its transactions (a log outlives a torn journal commit). It holds no rules either:
// the names, limits and pieces are core/task-output.ts's. Removing a task removes its output: in
// the store's own transaction where the output lives with the tasks (PostgreSQL), through
// `removeTasks` after the store removed them where it does not.
import { open as openFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Attachment } from "../core/task.ts";

/** An attachment's bytes as an executor (or a copy) hands them over. */
export type AttachmentSource = string | Uint8Array | { path: string } | { chunks: AsyncIterable<Uint8Array> };

/** A stored attachment, to read. */
export interface StoredAttachment {
  name: string;
  size: number;
  /** A stream of its bytes; open it once. */
  open(): Readable;
}

/** Reads one task's log from its start: each call hands over what was appended since, as whole lines. */
export interface LogReader {
  /** Calls `onText` with whole lines (each ending with "\n"), a piece at a time (awaiting each), up to the end of the log as it is now. */
  readNew(onText: (text: string) => void | Promise<void>): Promise<void>;
}

/** Appends to one task's log. */
export interface LogWriter {
  /** Appends whole lines (each ending with "\n"). Throws, or rejects, when they cannot be written: nothing of them was. */
  append(text: string): void | Promise<void>;
  /** Lets go of what appending held (a file handle). */
  close(): void;
}

export interface TaskOutput {
  /**
   * How the worker should hand log lines over: null, one line at a time as each is written, with
   * `append` done when it returns (a file: a line is there even if the process dies right
   * after); else batched, at most every `ms` or once `bytes` are waiting, since each append costs a
   * round trip.
   */
  readonly logBatch: { ms: number; bytes: number } | null;
  /** Appends to a task's log (made with its first line); close the writer when the try's log is done. */
  logWriter(taskId: string): LogWriter;
  logReader(taskId: string): LogReader;
  /** The text of the last `count` lines, looking at most at about the last `maxBytes` (a first line may be cut: the caller drops it when `cut`). */
  logTail(taskId: string, count: number, maxBytes: number): Promise<{ text: string; cut: boolean }>;
  /** Calls `onAppend` soon after lines were appended to a task's log (and maybe when none were). Close the handle to stop. */
  watchLog(taskId: string, onAppend: () => void): { close(): void };
  /** What an attachment's `path` says where it is kept: a file's path, or where in the database. */
  attachmentPath(taskId: string, name: string): string;
  /** Stores an attachment of the task (a name it has is replaced): a reader sees the old bytes or the new, never a mix. */
  putAttachment(taskId: string, name: string, source: AttachmentSource): Promise<Attachment>;
  /** The attachment `attachment` (from the task's record) as stored; throws a UsageError when it is not there. */
  openAttachment(taskId: string, attachment: Attachment): Promise<StoredAttachment>;
  /** Deletes the output of tasks the store removed (nothing to do where the store's transaction did it). */
  removeTasks(ids: readonly string[]): void;
}

/** The pieces of `source`, however it comes, at most `size` bytes each (the last may be shorter). */
export async function* attachmentPieces(source: AttachmentSource, size: number): AsyncGenerator<Uint8Array> {
  if (typeof source === "string" || source instanceof Uint8Array) {
    const bytes = typeof source === "string" ? Buffer.from(source) : source;
    for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    return;
  }
  if ("path" in source) {
    const file = await openFile(source.path, "r");
    try {
      for (;;) {
        const { bytesRead, buffer } = await file.read(Buffer.alloc(size), 0, size, null);
        if (bytesRead === 0) return;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
  }
  let waiting: Buffer[] = [];
  let waitingBytes = 0;
  for await (const chunk of source.chunks) {
    waiting.push(Buffer.from(chunk));
    waitingBytes += chunk.length;
    while (waitingBytes >= size) {
      const all = Buffer.concat(waiting);
      yield all.subarray(0, size);
      waiting = [all.subarray(size)];
      waitingBytes -= size;
    }
  }
  if (waitingBytes > 0) yield Buffer.concat(waiting);
}
