// `bgtask remove <id …>` and `bgtask remove --finished [--older-than 7d]`: delete tasks with their
// logs and attachments. A running task is refused (cancel it first); ids are all removed or none.
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { TaskNotFoundError, UsageError } from "../../errors.ts";
import { removeTaskFiles } from "../../host/home.ts";
import { checkTaskId, openSession, printJson } from "../session.ts";

export interface RemoveOptions extends LocationFlags {
  finished?: boolean;
  olderThan?: string;
  json?: boolean;
}

async function removeIds(ids: string[], options: RemoveOptions): Promise<string[]> {
  if (ids.length === 0) throw new UsageError("give the ids of the tasks to remove, or --finished to remove finished tasks");
  if (options.olderThan !== undefined) throw new UsageError("--older-than goes with --finished");
  const { config, store } = await openSession(options);
  const result = await store.remove(ids.map(checkTaskId), new Date());
  if (result.missing.length > 0) throw new TaskNotFoundError(result.missing[0]!);
  if (result.running.length > 0) {
    const id = result.running[0]!;
    throw new UsageError(`task ${id} is running; cancel it first (\`bgtask cancel ${id}\`), then remove it. Nothing was removed`, {
      code: "ERUNNING",
    });
  }
  const removed = result.removed.map((t) => t.id);
  removeTaskFiles(config.home, removed);
  return removed;
}

async function removeFinished(options: RemoveOptions): Promise<string[]> {
  let olderThan: Date | null = null;
  if (options.olderThan !== undefined) {
    const age = parseDurationFlag("--older-than", options.olderThan, '"12h" or "7d"');
    olderThan = new Date(Date.now() - age);
  }
  const { config, store } = await openSession(options);
  const removed = await store.removeFinished(olderThan, new Date());
  removeTaskFiles(config.home, removed);
  return removed;
}

export async function remove(ids: string[], options: RemoveOptions): Promise<void> {
  if (options.finished && ids.length > 0) throw new UsageError("give task ids or --finished, not both");
  const removed = options.finished ? await removeFinished(options) : await removeIds(ids, options);
  if (options.json) printJson({ removed });
  else process.stdout.write(`removed ${removed.length} task${removed.length === 1 ? "" : "s"}\n`);
}
