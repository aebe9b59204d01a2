// `bgtask run <executor> [key=value …]`: validate everything, store the task(s) durably, make sure
// a worker will take them, print the id(s). Nothing is written unless every input is valid.
import { isUtf8 } from "node:buffer";
import { existsSync, readFileSync, type Stats, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { enqueue, keyFields, keyNotes } from "../../client/enqueue.ts";
import { runPlan } from "../../client/run-plan.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { mergeContext, parseContextJson, parsePairs, MAX_CONTEXT_BYTES, type TaskContext } from "../../core/context.ts";
import { formatDuration } from "../../core/duration.ts";
import { publicRecord } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { resolveExecutor } from "../../executor/discover.ts";
import { printJson } from "../output/json.ts";

export interface RunOptions extends LocationFlags {
  ctx?: string;
  ctxFile?: string;
  each?: string;
  delay?: string;
  at?: string;
  retry?: string;
  priority?: string;
  key?: string;
  replace?: boolean;
  after?: string;
  on?: string;
  follow?: boolean;
  worker?: boolean;
  json?: boolean;
}

const MAX_EACH_BYTES = 256 * 1024 * 1024;

/** Bad UTF-8 is refused, as the journal refuses it in its own files, never turned into U+FFFD. */
function decodeUtf8(bytes: Buffer, what: string): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  // A newline is never inside a UTF-8 sequence: the first line that fails alone is the bad one.
  let line = 1;
  let start = 0;
  for (let end = bytes.indexOf(0x0a); end !== -1 && isUtf8(bytes.subarray(start, end)); end = bytes.indexOf(0x0a, start)) {
    start = end + 1;
    line += 1;
  }
  throw new UsageError(`${what} is not valid UTF-8 (line ${line}); save it as UTF-8`);
}

function readInputFile(path: string, what: string, maxBytes: number): string {
  if (path === "-") return decodeUtf8(readFileSync(0), `${what} stdin`);
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (error) {
    throw new UsageError(`${what} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!stat.isFile()) throw new UsageError(`${what} ${path} is not a regular file`);
  if (stat.size > maxBytes) throw new UsageError(`${what} ${path} is larger than ${Math.round(maxBytes / 1024)} KiB`);
  return decodeUtf8(readFileSync(path), `${what} ${path}`);
}

function baseContext(options: RunOptions): TaskContext | null {
  if (options.ctx !== undefined && options.ctxFile !== undefined) throw new UsageError("use --ctx or --ctx-file, not both");
  if (options.ctx !== undefined) return parseContextJson(options.ctx, "--ctx");
  if (options.ctxFile !== undefined) return parseContextJson(readInputFile(options.ctxFile, "--ctx-file", MAX_CONTEXT_BYTES), `--ctx-file ${options.ctxFile}`);
  return null;
}

function contexts(options: RunOptions, pairs: string[]): TaskContext[] {
  const fromPairs = parsePairs(pairs);
  if (options.each === undefined) return [mergeContext(baseContext(options), fromPairs, "the task")];
  if (options.ctx !== undefined || options.ctxFile !== undefined) throw new UsageError("--each cannot be combined with --ctx or --ctx-file");
  const source = options.each === "-" ? "stdin" : options.each;
  const lines = readInputFile(options.each, "--each", MAX_EACH_BYTES).split("\n");
  const result: TaskContext[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `line ${i + 1} of ${source}`;
    result.push(mergeContext(parseContextJson(line, where), fromPairs, where));
  });
  if (result.length === 0) throw new UsageError(`--each ${source} holds no contexts (one JSON object per line)`);
  return result;
}

/**
 * Executors run with the project root as their working directory, wherever `run` was typed: a
 * top-level value naming a file relative to here that is not there is worth a word before it fails.
 */
function warnRelativePaths(context: TaskContext, root: string): void {
  const here = process.cwd();
  if (here === root) return;
  for (const [key, value] of Object.entries(context)) {
    if (typeof value !== "string" || value === "" || isAbsolute(value) || value.includes("://")) continue;
    if (!existsSync(resolve(here, value)) || existsSync(resolve(root, value))) continue;
    process.stderr.write(
      `bgtask: note: ${key}=${value} is a path relative to this folder, but executors run in the project root ${root}, where it does not exist; pass ${key}=${resolve(here, value)}\n`,
    );
  }
}

export async function run(name: string, pairs: string[], options: RunOptions): Promise<void> {
  const session = await openSession(options);
  const file = resolveExecutor(session.config.tasksDir, name);
  const plan = runPlan(options, "flag");
  const parsed = contexts(options, pairs);
  if (options.each === undefined) warnRelativePaths(parsed[0]!, session.config.root);
  const enqueued = await enqueue(session, file, parsed, plan);
  const { storedAt, dueAt } = enqueued;
  if (plan.key !== null) for (const note of keyNotes(enqueued, plan.key)) process.stderr.write(`bgtask: ${note}\n`);
  const records = enqueued.tasks.map((task, i) => ({ ...publicRecord(task), ...keyFields(plan, enqueued.outcomes[i]!) }));
  // A key may name one task for several lines: follow each once.
  const tasks = [...new Map(enqueued.tasks.map((t) => [t.id, t])).values()];
  if (dueAt !== null && dueAt.getTime() < storedAt.getTime()) {
    // Not refused: a script that computes a time a moment ago means "now".
    process.stderr.write(`bgtask: --at ${options.at} was ${formatDuration(storedAt.getTime() - dueAt.getTime())} ago; the task is due at once\n`);
  }
  if (!options.json) process.stdout.write(`${enqueued.tasks.map((t) => t.id).join("\n")}\n`);
  // With --follow --json the watch's NDJSON stream says it all, starting with each record.
  else if (!options.follow) printJson(records.length === 1 && options.each === undefined ? records[0] : records);
  if (options.follow) {
    const [{ configNoWorkers }, { showWatch }] = await Promise.all([import("../../client/follow.ts"), import("./watch.ts")]);
    const noWorkers = options.worker === false ? "it was stored with --no-worker" : configNoWorkers(session);
    await showWatch(
      session,
      tasks.map((t) => t.id),
      { json: options.json, noWorkers },
    );
  }
}
