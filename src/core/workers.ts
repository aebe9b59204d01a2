// The worker-slot rules: when one more worker is wanted, and when a reserved slot is given up.
// Pure: stores count and apply; whether a registered worker's process lives is a fact the caller
// brings (slots are per host: only its own host can check a process).
import { isClaimableOn, pinnedHostOf, type TaskRecord, type WorkerRef } from "./task.ts";
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
 * Whether an idle worker on `host` may leave: not while work it may claim is runnable (`moreQueued`:
 * a store's tasks kept apart from `tasks`, never pinned), nor while such a scheduled task is due
 * within the window (it sleeps for that one). Tasks pinned to other hosts are not its work.
 */
export function retirement(
  tasks: readonly TaskRecord[],
  now: Date,
  scheduleWindowMs: number,
  moreQueued: boolean,
  paused: PausedQueues = NO_PAUSED_QUEUES,
  host?: string,
): { retired: boolean; nextDueAt: string | null } {
  const filter = host === undefined ? undefined : { host };
  if (moreQueued || pickNext(tasks, now, filter, paused)) return { retired: false, nextDueAt: null };
  const dueSoon = tasks
    .filter((t) => !paused.has(t.executor) && (host === undefined || isClaimableOn(t, host)) && isDueWithin(t, now, scheduleWindowMs))
    .map((t) => t.nextRunAt!)
    .sort()[0];
  return dueSoon ? { retired: false, nextDueAt: dueSoon } : { retired: true, nextDueAt: null };
}

/** The work (isDemand) as a slot request on one host weighs it: see wantsWorker. */
export interface HostDemand {
  /** Running tries anywhere, and waiting work a worker on the host may claim (pinned to it or to none). */
  claimable: number;
  /** What only the host's own workers serve: tries running on it and waiting work pinned to it. */
  local: number;
}

/** Counts `tasks` (those for which isDemand holds) for a slot request on `host`, with `unpinned` more of work any host may do (a schedule due, a store's cold queue). */
export function hostDemand(tasks: Iterable<TaskRecord>, host: string, unpinned = 0): HostDemand {
  const demand: HostDemand = { claimable: unpinned, local: 0 };
  for (const task of tasks) {
    if (task.status === "running") {
      demand.claimable += 1;
      if (task.worker?.host === host) demand.local += 1;
    } else if (isClaimableOn(task, host)) {
      demand.claimable += 1;
      if (pinnedHostOf(task) === host) demand.local += 1;
    }
  }
  return demand;
}

/**
 * One more worker is wanted while this host runs fewer than `maxWorkers`, and either all hosts
 * together have fewer places (`places`: tasks at once in each worker) than there is work this host
 * may do (`claimable`), or this host has fewer than the work only its workers may do (`local`:
 * pinned to it, or running on it). Work pinned to other hosts never starts a worker here: it could
 * not claim it, and would wait in vain.
 */
export function wantsWorker(liveOnHost: number, liveEverywhere: number, maxWorkers: number, places: number, demand: HostDemand): boolean {
  return liveOnHost < maxWorkers && (liveEverywhere * places < demand.claimable || liveOnHost * places < demand.local);
}
