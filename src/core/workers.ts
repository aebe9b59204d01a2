// The worker-slot rules: when one more worker is wanted, and when a reserved slot is given up.
// Pure: stores count and apply; whether a registered worker's process lives is a fact the caller
// brings (slots are per host: only its own host can check a process).
import type { TaskRecord, WorkerRef } from "./task.ts";
import { isDueWithin, isRunnable, NO_PAUSED_QUEUES, pickNext, type PausedQueues } from "./transitions.ts";

/** A worker slot: reserved by whoever starts a worker, then registered by the worker itself. */
export interface WorkerSlot {
  slot: string;
  /** Where the worker runs; absent in slots written before slots were per host (counted on every host). */
  host?: string;
  reservedAt: string;
  /** Null until the spawned process registers itself. */
  process: WorkerRef | null;
}

/** A reserved slot whose worker never registered is given up after this long. */
export const SLOT_RESERVATION_MS = 15_000;

export function isOnHost(slot: WorkerSlot, host: string): boolean {
  return slot.host === undefined || slot.host === host;
}

/** A reservation whose worker never came: its slot is free again. */
export function isReservationExpired(slot: WorkerSlot, now: Date): boolean {
  return slot.process === null && now.getTime() - Date.parse(slot.reservedAt) >= SLOT_RESERVATION_MS;
}

/** Whether `task` is work for a worker: running, runnable, or due within the window (a worker sleeps for it); nothing of a paused queue waits for one. */
export function isDemand(task: TaskRecord, now: Date, scheduleWindowMs: number, paused: PausedQueues = NO_PAUSED_QUEUES): boolean {
  if (task.status === "running") return true;
  if (paused.has(task.executor)) return false;
  return isRunnable(task, now) || isDueWithin(task, now, scheduleWindowMs);
}

/**
 * Whether an idle worker may leave: not while work is runnable (`moreQueued`: a store's tasks kept
 * apart from `tasks`), nor while a scheduled task is due within the window (it sleeps for that one).
 */
export function retirement(
  tasks: readonly TaskRecord[],
  now: Date,
  scheduleWindowMs: number,
  moreQueued: boolean,
  paused: PausedQueues = NO_PAUSED_QUEUES,
): { retired: boolean; nextDueAt: string | null } {
  if (moreQueued || pickNext(tasks, now, undefined, paused)) return { retired: false, nextDueAt: null };
  const dueSoon = tasks
    .filter((t) => !paused.has(t.executor) && isDueWithin(t, now, scheduleWindowMs))
    .map((t) => t.nextRunAt!)
    .sort()[0];
  return dueSoon ? { retired: false, nextDueAt: dueSoon } : { retired: true, nextDueAt: null };
}

/**
 * One more worker is wanted while this host runs fewer than `maxWorkers` and all hosts together
 * run fewer than there is work (`demand`: tasks for which isDemand holds).
 */
export function wantsWorker(liveOnHost: number, liveEverywhere: number, maxWorkers: number, demand: number): boolean {
  return liveOnHost < maxWorkers && liveEverywhere < demand;
}
