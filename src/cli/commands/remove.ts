// `bgtask remove <id …>` and `bgtask remove --finished [--older-than 7d]`: delete tasks with their
// logs and attachments. A running task is refused (cancel it first); ids are all removed or none.
import { removeFinishedTasks, removeTasks } from "../../client/control.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { UsageError } from "../../errors.ts";
import { printJson } from "../output/json.ts";

export interface RemoveOptions extends LocationFlags {
  finished?: boolean;
  olderThan?: string;
  json?: boolean;
}

async function removeIds(ids: string[], options: RemoveOptions): Promise<string[]> {
  if (ids.length === 0) throw new UsageError("give the ids of the tasks to remove, or --finished to remove finished tasks");
  if (options.olderThan !== undefined) throw new UsageError("--older-than goes with --finished");
  return removeTasks(await openSession(options), ids);
}

async function removeFinished(options: RemoveOptions): Promise<string[]> {
  let olderThan: Date | null = null;
  if (options.olderThan !== undefined) {
    const age = parseDurationFlag("--older-than", options.olderThan, '"12h" or "7d"');
    olderThan = new Date(Date.now() - age);
  }
  return removeFinishedTasks(await openSession(options), olderThan);
}

export async function remove(ids: string[], options: RemoveOptions): Promise<void> {
  if (options.finished && ids.length > 0) throw new UsageError("give task ids or --finished, not both");
  const removed = options.finished ? await removeFinished(options) : await removeIds(ids, options);
  if (options.json) printJson({ removed });
  else process.stdout.write(`removed ${removed.length} task${removed.length === 1 ? "" : "s"}\n`);
}
