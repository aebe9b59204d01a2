// Reading a task's attachment back: only one its record names, as its journal's task output keeps it
// (a Node.js Readable, which the client's public AttachmentFile describes without @types/node).
import { UsageError } from "../errors.ts";
import type { StoredAttachment } from "../journal/task-output.ts";
import { getTask, type Session } from "./session.ts";

export async function readAttachment(session: Session, id: string, name: string): Promise<StoredAttachment> {
  if (typeof name !== "string" || name.length === 0)
    throw new UsageError("an attachment name is needed, as `bgtask status <id>` lists them", { code: "ENOATTACHMENT" });
  const task = await getTask(session, id);
  const attachment = task.attachments.find((a) => a.name === name);
  if (!attachment) {
    const names = task.attachments.map((a) => JSON.stringify(a.name)).join(", ");
    throw new UsageError(`task ${task.id} has no attachment named ${JSON.stringify(name)}; ${names ? `it has ${names}` : "it has none"}`, {
      code: "ENOATTACHMENT",
    });
  }
  return session.store.taskOutput(session.config.home).openAttachment(task.id, attachment);
}
