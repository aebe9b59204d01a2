// The memory store's task output (task-output.ts): logs and attachments held in memory beside its
// tasks, gone with the store, so a store made for a test or a model writes nothing anywhere.
import { Readable } from "node:stream";
import { attachmentTooLarge, MAX_ATTACHMENT_BYTES } from "../../core/task-output.ts";
import type { Attachment } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { attachmentPieces, type AttachmentSource, type LogReader, type LogWriter, type StoredAttachment, type TaskOutput } from "../task-output.ts";

export class MemoryTaskOutput implements TaskOutput {
  readonly logBatch = null;
  private readonly logs = new Map<string, string>();
  private readonly attachments = new Map<string, Map<string, Buffer>>();
  private readonly watchers = new Map<string, Set<() => void>>();

  logWriter(taskId: string): LogWriter {
    return {
      append: (text) => {
        this.logs.set(taskId, (this.logs.get(taskId) ?? "") + text);
        for (const onAppend of this.watchers.get(taskId) ?? []) onAppend();
      },
      close: () => undefined,
    };
  }

  logReader(taskId: string): LogReader {
    let read = 0;
    return {
      readNew: async (onText) => {
        const log = this.logs.get(taskId) ?? "";
        // A log shorter than what was read was removed and begun again: read it from its start.
        if (log.length < read) read = 0;
        const text = log.slice(read);
        read = log.length;
        if (text.length > 0) await onText(text);
      },
    };
  }

  async logTail(taskId: string, _count: number, maxBytes: number): Promise<{ text: string; cut: boolean }> {
    const log = Buffer.from(this.logs.get(taskId) ?? "");
    const start = Math.max(0, log.length - maxBytes);
    return { text: log.subarray(start).toString("utf8"), cut: start > 0 };
  }

  watchLog(taskId: string, onAppend: () => void): { close(): void } {
    const watchers = this.watchers.get(taskId) ?? new Set();
    this.watchers.set(taskId, watchers);
    watchers.add(onAppend);
    return { close: () => watchers.delete(onAppend) };
  }

  attachmentPath(taskId: string, name: string): string {
    return `memory:${taskId}/${name}`;
  }

  async putAttachment(taskId: string, name: string, source: AttachmentSource): Promise<Attachment> {
    const pieces: Buffer[] = [];
    let size = 0;
    for await (const piece of attachmentPieces(source, MAX_ATTACHMENT_BYTES)) {
      size += piece.length;
      if (size > MAX_ATTACHMENT_BYTES) throw new Error(attachmentTooLarge(name, size));
      pieces.push(Buffer.from(piece));
    }
    const kept = this.attachments.get(taskId) ?? new Map<string, Buffer>();
    this.attachments.set(taskId, kept);
    kept.set(name, Buffer.concat(pieces));
    return { name, path: this.attachmentPath(taskId, name), size };
  }

  async openAttachment(taskId: string, attachment: Attachment): Promise<StoredAttachment> {
    const bytes = this.attachments.get(taskId)?.get(attachment.name);
    if (bytes === undefined) {
      throw new UsageError(`the bytes of attachment ${JSON.stringify(attachment.name)} of task ${taskId} are missing`, { code: "ENOATTACHMENT" });
    }
    return { name: attachment.name, size: bytes.length, open: () => Readable.from([bytes]) };
  }

  removeTasks(ids: readonly string[]): void {
    for (const id of ids) {
      this.logs.delete(id);
      this.attachments.delete(id);
    }
  }
}
