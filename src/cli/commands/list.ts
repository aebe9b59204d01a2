// `bgtask list`: every active task and the most recent finished ones, as a table or --json.
import { TASK_STATUSES, publicRecord, type TaskStatus } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import { UsageError } from "../../errors.ts";
import { renderList } from "../output/render.ts";
import { openSession, printJson } from "../session.ts";
import { workerGone } from "../worker-gone.ts";

export interface ListOptions extends LocationFlags {
  status?: string;
  executor?: string;
  limit?: string;
  json?: boolean;
}

export const DEFAULT_LIST_LIMIT = 50;

function parseStatuses(text: string | undefined): TaskStatus[] | undefined {
  if (text === undefined) return undefined;
  const statuses = text.split(",").map((s) => s.trim());
  for (const status of statuses) {
    if (!(TASK_STATUSES as readonly string[]).includes(status)) {
      throw new UsageError(`--status "${status}" is not a status; use one of ${TASK_STATUSES.join(", ")}`);
    }
  }
  return statuses as TaskStatus[];
}

/** Any positive whole number: a limit larger than the journal simply shows everything. */
function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIST_LIMIT;
  if (!/^[1-9][0-9]*$/.test(text.trim())) throw new UsageError(`--limit "${text}" is not a positive whole number`);
  return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
}

export async function list(options: ListOptions): Promise<void> {
  const statuses = parseStatuses(options.status);
  const limit = parseLimit(options.limit);
  const { store } = await openSession(options);
  const filter = { statuses, executor: options.executor };
  // One more than the limit: a full page may be all there is, and only one more proves the limit left some out.
  const page = await store.list({ ...filter, limit: limit < Number.MAX_SAFE_INTEGER ? limit + 1 : limit });
  const tasks = page.slice(0, limit);
  if (options.json) {
    printJson(tasks.map(publicRecord));
    return;
  }
  process.stdout.write(`${renderList(tasks, new Date(), new Set(tasks.filter(workerGone).map((t) => t.id)))}\n`);
  if (page.length > limit) {
    const narrow = statuses || options.executor ? "" : ", --status or --executor narrows";
    process.stderr.write(`(${limit} shown, the active tasks first, then the most recently finished: --limit N shows more${narrow})\n`);
  }
}
