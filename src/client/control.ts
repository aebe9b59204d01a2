// Changing tasks that exist: cancel (at once when they wait; a running one is asked, waited for,
// then forced), retry a final task, remove tasks with their files. Every id is checked before
// any task is changed: one bad id, no change.
import { ACTIVE_STATUSES, isFinal, type TaskRecord, type TaskStatus } from "../core/task.ts";
import { type CancelEffect, forcedOutcome, OUTSIDE_FORCE_MARGIN_MS } from "../core/transitions.ts";
import { TaskNotFoundError, UsageError } from "../errors.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { forceTry } from "../worker/recovery.ts";
import { startWorkersIfNeeded } from "../worker/spawn.ts";
import { telemetryOf } from "../telemetry/otel.ts";
import { checkTaskId, getTask, getTasks, noneChanged, type Session } from "./session.ts";

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
      await startWorkersIfNeeded(config, store);
      return forced;
    }
    await sleep(POLL_MS);
  }
}

function alreadyEnded(task: TaskRecord): UsageError {
  return new UsageError(`task ${task.id} has already ended (${task.status}); there is nothing to cancel`, { code: "EFINAL" });
}

export interface CancelOptions {
  /** False: only ask a running task to stop. Default true: resolve once it has stopped. */
  wait?: boolean;
  /** Told when a running task was asked to stop and is waited for. */
  onRequested?(task: TaskRecord, graceMs: number): void;
}

async function cancelOne(session: Session, id: string, options: CancelOptions): Promise<TaskRecord> {
  const result = await session.store.cancel(id, new Date());
  if (!result) throw new TaskNotFoundError(id);
  if (result.effect === "final") throw alreadyEnded(result.task);
  return afterCancel(session, result, options);
}

/** What a cancel the store applied comes to: at once, or (a running task asked to stop) once it stopped, unless told not to wait. */
async function afterCancel(session: Session, result: { task: TaskRecord; effect: CancelEffect }, options: CancelOptions): Promise<TaskRecord> {
  const waits = result.effect === "requested" && options.wait !== false;
  if (!waits) return result.task;
  options.onRequested?.(result.task, session.config.timings.cancelGraceMs);
  return awaitStop(session, result.task);
}

/** Cancels every task in `ids`, or none when one has already ended. */
export async function cancelTasks(session: Session, ids: readonly string[], options: CancelOptions = {}): Promise<TaskRecord[]> {
  const checked = await getTasks(session, ids, (task) => (isFinal(task.status) ? alreadyEnded(task) : null));
  // Every task is asked at once, so several running ones share one grace period.
  return Promise.all(checked.map((task) => cancelOne(session, task.id, options)));
}

function whyNotRetriable(task: TaskRecord): string {
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
  return new UsageError(`task ${task.id} cannot be retried: ${whyNotRetriable(task)} (only a succeeded, failed or cancelled task can)`, {
    code: "ENOTFINAL",
  });
}

function keyHeld(task: TaskRecord, holder: TaskRecord): UsageError {
  const why = isFinal(holder.status) ? "would be queued again with it" : `is ${holder.status}`;
  return new UsageError(
    `task ${task.id} cannot be retried: task ${holder.id} of ${holder.executor} with the same key ${holder.key} ${why}, and a key has one task at a time that is not final`,
    { code: "EKEYHELD" },
  );
}

/** Before any is queued again: a key held by a task that is not final, or shared by two of `tasks`, refuses them all. */
async function refuseHeldKeys(session: Session, tasks: readonly TaskRecord[]): Promise<void> {
  const retrying = new Map<string, TaskRecord>();
  for (const task of tasks) {
    if (task.key === null || task.key === undefined) continue;
    const [holder] = await session.store.list({ statuses: ACTIVE_STATUSES, executor: task.executor, key: task.key, limit: 1 });
    const slot = JSON.stringify([task.executor, task.key]);
    const clash = holder ?? retrying.get(slot);
    if (clash) throw noneChanged(keyHeld(task, clash), tasks.length);
    retrying.set(slot, task);
  }
}

/** Queues final tasks again as a new try each, or none when one is not final; `worker: false` only queues them. */
export async function retryTasks(session: Session, ids: readonly string[], options: { worker?: boolean } = {}): Promise<TaskRecord[]> {
  const { config, store } = session;
  const checked = await getTasks(session, ids, (task) => (isFinal(task.status) ? null : notRetriable(task)));
  await refuseHeldKeys(session, checked);
  const retried: TaskRecord[] = [];
  const telemetry = await telemetryOf(config.root);
  for (const { id, executor } of checked) {
    // A send span in the caller's trace; the task keeps the context it was first sent with, so its tries stay in that trace.
    const { result } = await telemetry.send(executor, 1, async () => {
      const result = await store.retry(id, new Date());
      return { result, ids: result?.queued ? [id] : [] };
    });
    if (!result) throw new TaskNotFoundError(id);
    if (!result.queued) throw result.heldBy ? keyHeld(result.task, result.heldBy) : notRetriable(result.task);
    retried.push(result.task);
  }
  if (options.worker !== false) await startWorkersIfNeeded(config, store);
  return retried;
}

/** Every task with one of `statuses`, of `executor` when given (checked to be an executor). */
export async function tasksIn(session: Session, statuses: readonly TaskStatus[], executor: string | undefined): Promise<TaskRecord[]> {
  if (executor !== undefined) resolveExecutor(session.config.tasksDir, executor);
  return session.store.list({ statuses, executor });
}

/**
 * `retry --failed`: queues every failed task again (of one executor, when given). One that a
 * worker or another command changed since it was found (retried already) is passed over.
 */
export async function retryFailed(session: Session, options: { executor?: string; worker?: boolean } = {}): Promise<TaskRecord[]> {
  const { config, store } = session;
  const failed = await tasksIn(session, ["failed"], options.executor);
  const results =
    failed.length === 0
      ? []
      : await store.retryMany(
          failed.map((t) => t.id),
          new Date(),
        );
  const retried = results.flatMap((result) => (result?.queued ? [result.task] : []));
  if (retried.length > 0 && options.worker !== false) await startWorkersIfNeeded(config, store);
  return retried;
}

/**
 * `cancel --all-queued`: cancels every task waiting to start, queued or scheduled (of one executor,
 * when given). One a worker claimed meanwhile is asked to stop, as `cancel` asks; one that ended
 * meanwhile is passed over.
 */
export async function cancelQueued(session: Session, options: CancelOptions & { executor?: string } = {}): Promise<TaskRecord[]> {
  const waiting = await tasksIn(session, ["queued", "scheduled"], options.executor);
  if (waiting.length === 0) return [];
  // One transaction for them all: a deep queue is cancelled in one write, not one per task.
  const results = await session.store.cancelMany(
    waiting.map((t) => t.id),
    new Date(),
  );
  const changed = results.filter((result) => result !== null && result.effect !== "final");
  return Promise.all(changed.map((result) => afterCancel(session, result!, options)));
}

/** Deletes tasks with their logs and attachments, all or none: a running one must be cancelled first. Returns the removed ids. */
export async function removeTasks(session: Session, ids: readonly string[]): Promise<string[]> {
  const { config, store } = session;
  const result = await store.remove(ids.map(checkTaskId), new Date());
  if (result.missing.length > 0) throw new TaskNotFoundError(result.missing[0]!);
  if (result.running.length > 0) {
    const id = result.running[0]!;
    throw new UsageError(`task ${id} is running; cancel it first (\`bgtask cancel ${id}\`), then remove it. Nothing was removed`, {
      code: "ERUNNING",
    });
  }
  const removed = result.removed.map((t) => t.id);
  store.taskOutput(config.home).removeTasks(removed);
  return removed;
}

/** Deletes final tasks (those that finished before `olderThan`, of `executor`, when given) with their files. */
export async function removeFinishedTasks(session: Session, olderThan: Date | null, options: { executor?: string } = {}): Promise<string[]> {
  const { config, store } = session;
  if (options.executor !== undefined) resolveExecutor(config.tasksDir, options.executor);
  const removed = await store.removeFinished(olderThan, new Date(), { executor: options.executor });
  store.taskOutput(config.home).removeTasks(removed);
  return removed;
}
