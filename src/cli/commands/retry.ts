// `bgtask retry <id …>`: the client's retry of final tasks (a new try each; their tries keep
// counting), or none when one cannot be retried (exit 2 with the reason). `--failed`: every failed
// task (of `--executor`), one line each.
import { retryFailed, retryTasks, tasksIn } from "../../client/control.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { publicRecord } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { type BulkFlags, goAhead } from "../bulk.ts";
import { printJson } from "../output/json.ts";

type RetryOptions = LocationFlags & BulkFlags & { worker?: boolean; failed?: boolean; executor?: string };

export async function retry(ids: string[], options: RetryOptions): Promise<void> {
  if (options.failed && ids.length > 0) throw new UsageError("give task ids or --failed, not both");
  if (!options.failed && options.executor !== undefined) throw new UsageError("--executor goes with --failed");
  if (!options.failed && (options.dryRun || options.yes)) throw new UsageError(`--${options.dryRun ? "dry-run" : "yes"} goes with --failed`);
  if (!options.failed && ids.length === 0) throw new UsageError("give the ids of the tasks to retry, or --failed to retry every failed task");
  const session = await openSession(options);
  if (options.failed) {
    if (!(await goAhead("retry", () => tasksIn(session, ["failed"], options.executor), options))) return;
    const retried = await retryFailed(session, { executor: options.executor, worker: options.worker });
    if (options.json) printJson(retried.map(publicRecord));
    else if (retried.length === 0) process.stdout.write(`no failed tasks${options.executor ? ` of ${options.executor}` : ""}\n`);
    else process.stdout.write(`${retried.map((t) => `${t.id} ${t.executor} queued again (try ${t.tries + 1} of ${t.maxTries})`).join("\n")}\n`);
    return;
  }
  const retried = await retryTasks(session, ids, { worker: options.worker });
  if (options.json) printJson(ids.length === 1 ? publicRecord(retried[0]!) : retried.map(publicRecord));
  else process.stdout.write(`${retried.map((t) => t.id).join("\n")}\n`);
}
