// Turns whatever an executor threw into the error the record keeps: message, stack and where
// inside the executor's files it was thrown.
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { TaskError } from "../core/task.ts";
import { coerceError } from "../errors.ts";

// "at fn (/path/x.ts:12:5)" or "at /path/x.ts:12:5". The path runs to the last ":line:column" and
// may hold spaces and parentheses ("My Projects", "app (old)"), so it is not cut at either.
const FRAME = /^at (?:.*? \()?((?:file:\/\/)?\/.+?):(\d+):(\d+)\)?$/;

/** The first stack frame inside `tasksDir`, as "tasks/x.ts:12" relative to `root`. */
export function whereThrown(stack: string | undefined, tasksDir: string, root: string): string | null {
  for (const line of (stack ?? "").split("\n").slice(1)) {
    const match = FRAME.exec(line.trim());
    if (!match) continue;
    const file = match[1]!.startsWith("file://") ? fileURLToPath(match[1]!) : match[1]!;
    const rel = relative(tasksDir, file);
    if (rel.startsWith("..") || rel.startsWith("/")) continue;
    return `${relative(root, file)}:${match[2]}`;
  }
  return null;
}

export function toTaskError(thrown: unknown, tasksDir: string, root: string): { error: Error; record: TaskError } {
  const error = coerceError(thrown);
  return {
    error,
    record: {
      message: error.message || error.name || "error",
      stack: error.stack ?? null,
      where: whereThrown(error.stack, tasksDir, root),
    },
  };
}
