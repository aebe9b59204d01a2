// Finds executors in the tasks directory. Names come from file names (graphile-worker's model),
// never from joining user input onto a path, and every file must resolve inside the folder.
// Files and folders whose name starts with "_" are the executors' helpers, not executors.
import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { UsageError } from "../errors.ts";

export const EXECUTOR_EXTENSIONS = [".ts", ".mts", ".js", ".mjs", ".cjs"] as const;
export const EXECUTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\/[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
const MAX_NAME_LENGTH = 200;

export interface ExecutorFile {
  name: string;
  file: string;
}

export interface Discovery {
  found: ExecutorFile[];
  /** Files (and linked folders) that look like executors but are refused: the name they would have, and why. */
  refused: Array<{ name: string; file: string; reason: string }>;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !rel.startsWith(sep) && !rel.includes(`..${sep}`);
}

function executorExtension(file: string): string | undefined {
  if (file.endsWith(".d.ts") || file.endsWith(".d.mts")) return undefined;
  return EXECUTOR_EXTENSIONS.find((ext) => file.endsWith(ext));
}

/** Why `file` may not be loaded, or null when it resolves inside the tasks directory. */
function escapeReason(realTasksDir: string, file: string): string | null {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return "it is a broken link";
  }
  return isInside(realTasksDir, real) ? null : `it resolves outside the tasks directory (${real})`;
}

export function discoverExecutors(tasksDir: string): Discovery {
  const discovery: Discovery = { found: [], refused: [] };
  if (!existsSync(tasksDir)) return discovery;
  const realTasksDir = realpathSync(tasksDir);
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith(".") || entry.startsWith("_") || entry === "node_modules") continue;
      const path = join(dir, entry);
      const isLink = lstatSync(path).isSymbolicLink();
      const reason = isLink ? escapeReason(realTasksDir, path) : null;
      let isDir = false;
      try {
        isDir = statSync(path).isDirectory();
      } catch {
        // broken link: reported below when it looks like an executor
      }
      if (isDir) {
        if (reason) discovery.refused.push({ name: `${prefix}${entry}`, file: path, reason });
        else walk(path, `${prefix}${entry}/`);
        continue;
      }
      const ext = executorExtension(entry);
      if (!ext) continue;
      const name = `${prefix}${entry.slice(0, -ext.length)}`;
      if (reason) discovery.refused.push({ name, file: path, reason });
      else if (!EXECUTOR_NAME.test(name)) discovery.refused.push({ name, file: path, reason: `"${name}" is not a valid executor name` });
      else if (!discovery.found.some((e) => e.name === name)) discovery.found.push({ name, file: path });
    }
  };
  walk(tasksDir, "");
  return discovery;
}

function describeFound(tasksDir: string): string {
  const names = discoverExecutors(tasksDir).found.map((e) => e.name);
  if (names.length === 0) return "it holds no executors";
  const shown = names.slice(0, 15).join(", ");
  return `it holds: ${shown}${names.length > 15 ? `, and ${names.length - 15} more` : ""}`;
}

/** Maps an executor name to its file, refusing anything that is not a plain name inside tasksDir. */
export function resolveExecutor(tasksDir: string, name: string): ExecutorFile {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !EXECUTOR_NAME.test(name)) {
    const shown = JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
    const rule =
      name.length > MAX_NAME_LENGTH
        ? `it is longer than ${MAX_NAME_LENGTH} characters`
        : name.split("/").some((part) => part.startsWith("_"))
          ? `files and folders starting with "_" are helpers for executors, not executors`
          : `use letters, digits, "_" and "-", with "/" between folders (like mail/send)`;
    throw new UsageError(`${shown} is not a valid executor name: ${rule}`, { code: "EEXECUTORNAME" });
  }
  if (!existsSync(tasksDir)) {
    throw new UsageError(`no executor "${name}": the tasks directory ${tasksDir} does not exist; create it or pass --tasks`, {
      code: "ENOEXECUTOR",
    });
  }
  const realTasksDir = realpathSync(tasksDir);
  for (const ext of EXECUTOR_EXTENSIONS) {
    const file = join(tasksDir, ...name.split("/")) + ext;
    if (!existsSync(file) && !lstatExists(file)) continue;
    const reason = escapeReason(realTasksDir, file);
    if (reason) throw new UsageError(`executor "${name}" is refused: ${file} ${reason.replace(/^it /, "")}`, { code: "EEXECUTORESCAPE" });
    return { name, file };
  }
  throw new UsageError(`no executor "${name}": looked for ${name}{${EXECUTOR_EXTENSIONS.join(",")}} in ${tasksDir}, and ${describeFound(tasksDir)}`, {
    code: "ENOEXECUTOR",
  });
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
