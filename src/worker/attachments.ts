// Files an executor attaches to its task, kept under <home>/attachments/<task id>/. Names are
// checked, never joined blindly: nothing an executor passes can write outside that folder, and a
// file is written beside its final name and renamed over it, so a planted symlink is replaced,
// never followed, and a reader sees the old content or the new, never half of it.
import { constants, copyFileSync, chmodSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Attachment } from "../core/task.ts";
import { ensurePrivateDir, taskAttachmentsDir } from "../host/home.ts";
import { uniqueName } from "../host/unique-name.ts";

const MAX_NAME = 200;

/** Why `name` cannot be an attachment name, or null when it can. */
export function attachmentNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "it must be a non-empty string";
  if (name.length > MAX_NAME) return `it is longer than ${MAX_NAME} characters`;
  if (name === "." || name === "..") return "it names a folder";
  if (/[/\\]/.test(name)) return "it contains a path separator";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return "it contains a control character";
  if (name.startsWith(".bgtask-")) return "names starting with .bgtask- are reserved";
  return null;
}

export type AttachmentData = string | Uint8Array | { path: string };

export function storeAttachment(home: string, taskId: string, name: string, data: AttachmentData): Attachment {
  const problem = attachmentNameProblem(name);
  if (problem) throw new Error(`attachment name ${JSON.stringify(name)} is refused: ${problem}`);
  const isCopy = typeof data === "object" && data !== null && "path" in data && !(data instanceof Uint8Array);
  if (!isCopy && typeof data !== "string" && !(data instanceof Uint8Array)) {
    throw new TypeError(`attachment ${JSON.stringify(name)}: data must be a string, a Uint8Array or { path }`);
  }
  const dir = taskAttachmentsDir(home, taskId);
  ensurePrivateDir(dirname(dir));
  ensurePrivateDir(dir);
  const path = join(dir, name);
  const temp = join(dir, `.bgtask-${uniqueName()}.tmp`);
  try {
    if (isCopy) copyFileSync((data as { path: string }).path, temp, constants.COPYFILE_EXCL);
    else writeFileSync(temp, data as string | Uint8Array, { mode: 0o600, flag: "wx" });
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
