// Files an executor attaches to its task, checked here and kept by the journal's task output
// (journal/task-output.ts): under the home on the file journal, in the database on PostgreSQL.
// Names are checked first: nothing an executor passes can name a place outside its task's own.
import { attachmentNameProblem } from "../core/task-output.ts";
import type { Attachment } from "../core/task.ts";
import type { TaskOutput } from "../journal/task-output.ts";

export type AttachmentData = string | Uint8Array | { path: string };

export function storeAttachment(output: TaskOutput, taskId: string, name: string, data: AttachmentData): Promise<Attachment> {
  const problem = attachmentNameProblem(name);
  if (problem) throw new Error(`attachment name ${JSON.stringify(name)} is refused: ${problem}`);
  if (typeof data === "string" || data instanceof Uint8Array) return output.putAttachment(taskId, name, data);
  if (typeof data === "object" && data !== null && "path" in data) return output.putAttachment(taskId, name, { path: data.path });
  throw new TypeError(`attachment ${JSON.stringify(name)}: data must be a string, a Uint8Array or { path }`);
}
