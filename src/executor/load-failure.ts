// Why an executor module failed to import, said as one sentence a user can act on: where a syntax
// error is (file:line:column), which module form a file must use where, and that executors need
// bgtask installed in the project. Only the error path comes here; a module that loads costs nothing.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

interface Location {
  file: string;
  line: number;
  column: number;
}

/** Node's own decoration of a compile error: "file:line", the source line, a caret line under it. */
function decoratedLocation(text: string): Location | null {
  const match = /^(\/[^\n]*?):(\d+)\n[^\n]*\n( *)\^/m.exec(text);
  return match ? { file: match[1]!, line: Number(match[2]), column: match[3]!.length + 1 } : null;
}

/** jiti's parse errors end their message with " file:line:column", the column counted from 0 (editors count from 1). */
function trailingLocation(message: string): Location | null {
  const match = /\n\s*(\/.*?):(\d+):(\d+)\s*$/.exec(message);
  return match ? { file: match[1]!, line: Number(match[2]), column: Number(match[3]) + 1 } : null;
}

/**
 * Node 20 keeps an ES module's syntax error location to itself (it prints it only for the main
 * module), so ask V8 again through `node --check`, which prints it. Costs one Node start, on the
 * error path only.
 */
function checkedLocation(file: string): Location | null {
  // Loaded here, not imported: every command that loads executors would load child_process to start.
  const { spawnSync } = process.getBuiltinModule("node:child_process");
  const check = spawnSync(process.execPath, ["--check", file], { encoding: "utf8", timeout: 10_000 });
  return check.status === 0 ? null : decoratedLocation(check.stderr ?? "");
}

function nearestPackageJson(file: string): string | null {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

/** The reason `file` could not be imported, for "executor … cannot be used: <reason>". */
export function explainLoadFailure(error: unknown, file: string): string {
  if (!(error instanceof Error)) return `it fails to load (${firstLine(String(error))})`;
  const message = error.message.replace(/^ParseError: /, "");
  if (/Cannot find (?:module|package) 'bgtask(?:\/[^']*)?'/.test(message)) {
    const project = nearestPackageJson(file);
    return (
      `it imports "bgtask", which is not installed ${project ? `in ${dirname(project)}` : "beside it"}: ` +
      "executors import bgtask from the project, so install it there (npm install --save-dev bgtask); a global install cannot be imported"
    );
  }
  if (/\.c?js$/.test(file) && error.name === "SyntaxError" && /^(Cannot use import statement outside a module|Unexpected token 'export')/.test(message)) {
    if (file.endsWith(".cjs")) return "it is written as an ES module (import/export), but .cjs files are CommonJS: use .mjs";
    const project = nearestPackageJson(file);
    const why = project ? `${project} makes .js files CommonJS` : "without a package.json, .js files are CommonJS";
    return `it is written as an ES module (import/export), but ${why}: use .mjs, or set "type": "module" in package.json`;
  }
  if (/^require is not defined in ES module scope/.test(message)) {
    return `it uses require(), but it is loaded as an ES module: use .cjs, or import instead of require`;
  }
  const where = /SyntaxError|ParseError/.test(`${error.name} ${error.message}`)
    ? (decoratedLocation(error.stack ?? "") ?? trailingLocation(error.message) ?? (/\.[cm]?js$/.test(file) ? checkedLocation(file) : null))
    : null;
  const text = firstLine(message) || error.name;
  if (where) return `it has a syntax error at ${where.file}:${where.line}:${where.column}: ${text}`;
  return `it fails to load (${error.name}: ${text})`;
}

/** Node's warning that a .js file written as an ES module is CommonJS: Node 20's words, then 22's and 24's. */
const MODULE_TYPE_WARNING = /^(To load an ES module|Failed to load the ES module)/;

/**
 * Runs `load` with Node's "To load an ES module, set "type": "module"…" warning held back: for an
 * executor, explainLoadFailure says it in one sentence instead of Node's raw lines on stderr.
 * Every other warning reaches Node's listeners as before.
 */
export async function withoutModuleTypeWarning<T>(load: () => Promise<T>): Promise<T> {
  const listeners = process.listeners("warning");
  const forward = (warning: Error) => {
    if (!MODULE_TYPE_WARNING.test(warning.message)) for (const listener of listeners) listener(warning);
  };
  process.removeAllListeners("warning");
  process.on("warning", forward);
  try {
    return await load();
  } finally {
    process.off("warning", forward);
    for (const listener of listeners) process.on("warning", listener);
  }
}
