// `bgtask retry <id …>`: final tasks (succeeded, failed, cancelled) run again as a new try; their
// tries keep counting. Any other task is refused with the reason (exit 2), and then none is retried.
import type { LocationFlags } from "../../config/config.ts";
import type { TaskRecord } from "../../core/task.ts";
import { isFinal, publicRecord } from "../../core/task.ts";
import { TaskNotFoundError, UsageError } from "../../errors.ts";
import { startWorkerIfNeeded } from "../../worker/spawn.ts";
import { getTasks, openSession, printJson } from "../session.ts";

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

function notRetriable(task: TaskRecord): UsageError {
  return new UsageError(`task ${task.id} cannot be retried: ${whyNot(task)} (only a succeeded, failed or cancelled task can)`, {
    code: "ENOTFINAL",
  });
}

export async function retry(ids: string[], options: LocationFlags & { json?: boolean; worker?: boolean }): Promise<void> {
  const session = await openSession(options);
  const { config, store } = session;
  const checked = await getTasks(session, ids, (task) => (isFinal(task.status) ? null : notRetriable(task)));
  const retried: TaskRecord[] = [];
  for (const { id } of checked) {
    const result = await store.retry(id, new Date());
    if (!result) throw new TaskNotFoundError(id);
    if (!result.queued) throw notRetriable(result.task);
    retried.push(result.task);
  }
  if (options.worker !== false) await startWorkerIfNeeded(config, store);
  if (options.json) printJson(ids.length === 1 ? publicRecord(retried[0]!) : retried.map(publicRecord));
  else process.stdout.write(`${retried.map((t) => t.id).join("\n")}\n`);
}
