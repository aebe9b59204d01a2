// The files a task owns besides its record: its log and its attachments folder. Deleted with the
// task by `remove` and by retention; a crash in between leaves files no task id will ever reuse.
import { rmSync } from "node:fs";
import { attachmentDir } from "./attachments.ts";
import { logPath } from "./task-log.ts";

export function removeTaskFiles(home: string, ids: readonly string[]): void {
  for (const id of ids) {
    rmSync(logPath(home, id), { force: true });
    rmSync(attachmentDir(home, id), { recursive: true, force: true });
  }
}
