// `bgtask cancel <id …>`: the client's cancel (at once for a waiting task; a running one is asked
// to stop, then forced after the grace period), one line or record per task. `--all-queued`:
// every task waiting to start (of `--executor`).
import { cancelQueued, cancelTasks, tasksIn } from "../../client/control.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { formatDuration } from "../../core/duration.ts";
import { publicRecord, type TaskRecord } from "../../core/task.ts";
import { UsageError } from "../../errors.ts";
import { type BulkFlags, goAhead } from "../bulk.ts";
import { printJson } from "../output/json.ts";

type CancelOptions = LocationFlags & BulkFlags & { wait?: boolean; allQueued?: boolean; executor?: string };

function outcomeLine(task: TaskRecord): string {
  if (task.status === "running") return `${task.id} cancel requested: it stops when its executor sees task.signal, or is forced after the grace period`;
  return `${task.id} ${task.status}${task.status === "cancelled" ? "" : " (it ended before it could be cancelled)"}`;
}

export async function cancel(ids: string[], options: CancelOptions): Promise<void> {
  if (options.allQueued && ids.length > 0) throw new UsageError("give task ids or --all-queued, not both");
  if (!options.allQueued && options.executor !== undefined) throw new UsageError("--executor goes with --all-queued");
  if (!options.allQueued && (options.dryRun || options.yes)) throw new UsageError(`--${options.dryRun ? "dry-run" : "yes"} goes with --all-queued`);
  if (!options.allQueued && ids.length === 0)
    throw new UsageError("give the ids of the tasks to cancel, or --all-queued to cancel every task waiting to start");
  const session = await openSession(options);
  const cancelOptions = {
    wait: options.wait,
    // A person waits up to the grace period for the next line: say what is going on. Not in scripts.
    onRequested(task: TaskRecord, graceMs: number) {
      if (process.stderr.isTTY) process.stderr.write(`asked ${task.id} to stop; forcing in ${formatDuration(graceMs)}\n`);
    },
  };
  if (options.allQueued) {
    if (!(await goAhead("cancel", () => tasksIn(session, ["queued", "scheduled"], options.executor), options))) return;
    const tasks = await cancelQueued(session, { ...cancelOptions, executor: options.executor });
    if (options.json) printJson(tasks.map(publicRecord));
    else
      process.stdout.write(
        tasks.length === 0 ? `no tasks waiting to start${options.executor ? ` of ${options.executor}` : ""}\n` : `${tasks.map(outcomeLine).join("\n")}\n`,
      );
    return;
  }
  const tasks = await cancelTasks(session, ids, cancelOptions);
  if (options.json) printJson(ids.length === 1 ? publicRecord(tasks[0]!) : tasks.map(publicRecord));
  else process.stdout.write(`${tasks.map(outcomeLine).join("\n")}\n`);
}
