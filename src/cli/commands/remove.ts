// `bgtask remove <id …>` and `bgtask remove --finished [--older-than 7d] [--executor X]`: delete tasks with their
// logs and attachments. A running task is refused (cancel it first); ids are all removed or none.
import { removeFinishedTasks, removeTasks, tasksIn } from "../../client/control.ts";
import { openSession } from "../../client/session.ts";
import { FINAL_STATUSES, finishedTime } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { UsageError } from "../../errors.ts";
import { type BulkFlags, goAhead } from "../bulk.ts";
import { printJson } from "../output/json.ts";

export interface RemoveOptions extends LocationFlags, BulkFlags {
  finished?: boolean;
  olderThan?: string;
  executor?: string;
}

async function removeIds(ids: string[], options: RemoveOptions): Promise<string[]> {
  if (ids.length === 0) throw new UsageError("give the ids of the tasks to remove, or --finished to remove finished tasks");
  if (options.olderThan !== undefined) throw new UsageError("--older-than goes with --finished");
  if (options.executor !== undefined) throw new UsageError("--executor goes with --finished");
  if (options.dryRun || options.yes) throw new UsageError(`--${options.dryRun ? "dry-run" : "yes"} goes with --finished`);
  return removeTasks(await openSession(options), ids);
}

async function removeFinished(options: RemoveOptions): Promise<string[] | null> {
  let olderThan: Date | null = null;
  if (options.olderThan !== undefined) {
    const age = parseDurationFlag("--older-than", options.olderThan, '"12h" or "7d"');
    olderThan = new Date(Date.now() - age);
  }
  const session = await openSession(options);
  // The tasks removeFinished takes: final, finished before the cut (store.removeFinished's test).
  const finished = async () =>
    (await tasksIn(session, FINAL_STATUSES, options.executor)).filter((task) => olderThan === null || finishedTime(task) < olderThan.getTime());
  if (!(await goAhead("remove", finished, options))) return null;
  return removeFinishedTasks(session, olderThan, { executor: options.executor });
}

export async function remove(ids: string[], options: RemoveOptions): Promise<void> {
  if (options.finished && ids.length > 0) throw new UsageError("give task ids or --finished, not both");
  const removed = options.finished ? await removeFinished(options) : await removeIds(ids, options);
  if (removed === null) return;
  if (options.json) printJson({ removed });
  else process.stdout.write(`removed ${removed.length} task${removed.length === 1 ? "" : "s"}\n`);
}
