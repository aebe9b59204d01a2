// Files an executor attaches to its task, kept under <home>/attachments/<task id>/. Names are
// checked, never joined blindly: nothing an executor passes can write outside that folder.
import { copyFileSync, chmodSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Attachment } from "../core/task.ts";
import { ensurePrivateDir } from "../host/home.ts";

const MAX_NAME = 200;

/** Why `name` cannot be an attachment name, or null when it can. */
export function attachmentNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "it must be a non-empty string";
  if (name.length > MAX_NAME) return `it is longer than ${MAX_NAME} characters`;
  if (name === "." || name === "..") return "it names a folder";
  if (/[/\\]/.test(name)) return "it contains a path separator";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "it contains a control character";
  return null;
}

export function attachmentDir(home: string, taskId: string): string {
  return join(home, "attachments", taskId);
}

export function storeAttachment(home: string, taskId: string, name: string, data: string | Uint8Array | { path: string }): Attachment {
  const problem = attachmentNameProblem(name);
  if (problem) throw new Error(`attachment name ${JSON.stringify(name)} is refused: ${problem}`);
  const dir = attachmentDir(home, taskId);
  ensurePrivateDir(join(home, "attachments"));
  ensurePrivateDir(dir);
  const path = join(dir, name);
  if (typeof data === "object" && data !== null && "path" in data) copyFileSync(data.path, path);
  else writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600);
  return { name, path, size: statSync(path).size };
}
