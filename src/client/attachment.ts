// Reading a task's attachment back: only a file its record names, found under the task's own
// attachments folder as a regular file (not a symlink, not elsewhere), whatever the record says.
import { constants, createReadStream, lstatSync, openSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UsageError } from "../errors.ts";
import { taskAttachmentsDir } from "../host/home.ts";
import type { AttachmentFile } from "./index.ts";
import { getTask, type Session } from "./session.ts";

export async function readAttachment(session: Session, id: string, name: string): Promise<AttachmentFile> {
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
  const dir = taskAttachmentsDir(session.config.home, task.id);
  const path = join(dir, basename(attachment.name));
  const stat = (() => {
    try {
      return lstatSync(path);
    } catch {
      return null;
    }
  })();
  if (dirname(path) !== dir || stat === null || !stat.isFile())
    throw new UsageError(`the file of attachment ${JSON.stringify(name)} of task ${task.id} is missing from ${dir}`, { code: "ENOATTACHMENT" });
  return { name: attachment.name, size: stat.size, open: () => createReadStream(path, { fd: openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW) }) };
}
