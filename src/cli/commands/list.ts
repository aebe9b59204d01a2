// `bgtask list`: every active task and the most recent finished ones, as a table or --json.
import { checkStatuses, DEFAULT_LIST_LIMIT, listTasks } from "../../client/query.ts";
import { openSession } from "../../client/session.ts";
import { workerGone } from "../../client/worker-gone.ts";
import type { LocationFlags } from "../../config/config.ts";
import { publicRecord, type TaskStatus } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { loadColumnsFor } from "../output/columns.ts";
import { printJson } from "../output/json.ts";
import { renderList } from "../output/list.ts";

export interface ListOptions extends LocationFlags {
  status?: string;
  executor?: string;
  limit?: string;
  json?: boolean;
}

function parseStatuses(text: string | undefined): TaskStatus[] | undefined {
  return text === undefined
    ? undefined
    : checkStatuses(
        text.split(",").map((s) => s.trim()),
        "--status",
      );
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
  const { tasks, more, pausedQueues } = await listTasks(await openSession(options), { statuses, executor: options.executor, limit });
  if (options.json) {
    printJson(tasks.map(publicRecord));
    return;
  }
  await loadColumnsFor(JSON.stringify(tasks));
  process.stdout.write(`${renderList(tasks, new Date(), new Set(tasks.filter(workerGone).map((t) => t.id)), pausedQueues)}\n`);
  if (more) {
    const narrow = statuses || options.executor ? "" : ", --status or --executor narrows";
    process.stderr.write(`(${limit} shown, the active tasks first, then the most recently finished: --limit N shows more${narrow})\n`);
  }
}
