// `bgtask retry <id>`: a final task (succeeded, failed, cancelled) runs again as a new try; its
// tries keep counting. Any other task is refused with the reason (exit 2).
import type { LocationFlags } from "../../config/config.ts";
import type { TaskRecord } from "../../core/task.ts";
import { publicRecord } from "../../core/task.ts";
import { TaskNotFoundError, UsageError } from "../../errors.ts";
import { startWorkerIfNeeded } from "../../worker/spawn.ts";
import { checkTaskId, openSession, printJson } from "../session.ts";

function whyNot(task: TaskRecord): string {
  switch (task.status) {
    case "running":
      return "it is running; wait for it to end, or cancel it first";
    case "scheduled":
      return `it is already scheduled to run${task.nextRunAt ? ` at ${task.nextRunAt}` : ""}`;
    case "paused":
      return "it is paused and resumes by itself";
    default:
      return "it is already queued";
  }
}

export async function retry(id: string, options: LocationFlags & { json?: boolean; worker?: boolean }): Promise<void> {
  const { config, store } = openSession(options);
  const result = await store.retry(checkTaskId(id), new Date());
  if (!result) throw new TaskNotFoundError(id);
  if (!result.queued) {
    throw new UsageError(`task ${id} cannot be retried: ${whyNot(result.task)} (only a succeeded, failed or cancelled task can)`, {
      code: "ENOTFINAL",
    });
  }
  if (options.worker !== false) await startWorkerIfNeeded(config, store);
  if (options.json) printJson(publicRecord(result.task));
  else process.stdout.write(`${id}\n`);
}
