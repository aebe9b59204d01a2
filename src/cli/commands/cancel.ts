// `bgtask cancel <id …>`: a queued or scheduled task is cancelled at once. A running one is asked to
// stop (its worker aborts task.signal); if it is still running a grace period later, this command
// kills its worker (identity checked first), records it cancelled, and starts a replacement worker.
import type { LocationFlags } from "../../config/config.ts";
import type { TaskRecord } from "../../core/task.ts";
import { formatDuration } from "../../core/duration.ts";
import { isFinal, publicRecord } from "../../core/task.ts";
import { forcedOutcome, OUTSIDE_FORCE_MARGIN_MS } from "../../core/transitions.ts";
import { TaskNotFoundError, UsageError } from "../../errors.ts";
import { forceTry } from "../../worker/recovery.ts";
import { startWorkerIfNeeded } from "../../worker/spawn.ts";
import { getTask, getTasks, openSession, printJson, type Session } from "../session.ts";

const POLL_MS = 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits for the try to end by itself; past the grace period (and the worker's own chance), forces it. */
async function awaitStop(session: Session, requested: TaskRecord): Promise<TaskRecord> {
  const { config, store } = session;
  const graceMs = config.timings.cancelGraceMs;
  const forceAt = Date.parse(requested.cancelRequestedAt!) + graceMs + OUTSIDE_FORCE_MARGIN_MS;
  for (;;) {
    const task = await getTask(session, requested.id);
    if (task.status !== "running" || task.lease !== requested.lease) return task;
    if (Date.now() >= forceAt) {
      const forced = await forceTry(store, task, forcedOutcome(task, "cancelled", graceMs), new Date());
      if (forced === null) return getTask(session, requested.id);
      await startWorkerIfNeeded(config, store);
      return forced;
    }
    await sleep(POLL_MS);
  }
}

function alreadyEnded(task: TaskRecord): UsageError {
  return new UsageError(`task ${task.id} has already ended (${task.status}); there is nothing to cancel`, { code: "EFINAL" });
}

type CancelOptions = LocationFlags & { json?: boolean; wait?: boolean };

async function cancelOne(session: Session, id: string, options: CancelOptions): Promise<TaskRecord> {
  const result = await session.store.cancel(id, new Date());
  if (!result) throw new TaskNotFoundError(id);
  if (result.effect === "final") throw alreadyEnded(result.task);
  const waits = result.effect === "requested" && options.wait !== false;
  // A person waits up to the grace period for the next line: say what is going on. Not in scripts.
  if (waits && process.stderr.isTTY) process.stderr.write(`asked ${id} to stop; forcing in ${formatDuration(session.config.timings.cancelGraceMs)}\n`);
  return waits ? awaitStop(session, result.task) : result.task;
}

function outcomeLine(task: TaskRecord): string {
  if (task.status === "running") return `${task.id} cancel requested: it stops when its executor sees task.signal, or is forced after the grace period`;
  return `${task.id} ${task.status}${task.status === "cancelled" ? "" : " (it ended before it could be cancelled)"}`;
}

export async function cancel(ids: string[], options: CancelOptions): Promise<void> {
  const session = await openSession(options);
  const checked = await getTasks(session, ids, (task) => (isFinal(task.status) ? alreadyEnded(task) : null));
  // Every task is asked at once, so several running ones share one grace period.
  const tasks = await Promise.all(checked.map((task) => cancelOne(session, task.id, options)));
  if (options.json) printJson(ids.length === 1 ? publicRecord(tasks[0]!) : tasks.map(publicRecord));
  else process.stdout.write(`${tasks.map(outcomeLine).join("\n")}\n`);
}
