// What `bgtask stats` and the dashboard's overview count: tasks by executor and status, and how
// many finished in each of the last minutes. Pure: stores feed the tasks (or their own counters)
// in, and time comes in as an argument.
import { finishedTime, type TaskStatus } from "./task.ts";

/** Tasks of one executor (or of all) by status; a status with none is left out. */
export type StatusCounts = Partial<Record<TaskStatus, number>>;

/** Executor name → its tasks by status. */
export type ExecutorCounts = Record<string, StatusCounts>;

export const MINUTE_MS = 60_000;

/** `record[key]`, or 0: an executor may be named like a property every object has ("constructor"). */
export function countOf(record: Readonly<Record<string, number>>, key: string): number {
  return Object.hasOwn(record, key) ? record[key]! : 0;
}

export function addCount(counts: ExecutorCounts, executor: string, status: TaskStatus, n = 1): void {
  if (n === 0) return;
  if (!Object.hasOwn(counts, executor)) counts[executor] = {};
  const row = counts[executor]!;
  const total = (row[status] ?? 0) + n;
  if (total === 0) delete row[status];
  else row[status] = total;
  if (Object.keys(row).length === 0) delete counts[executor];
}

/** Executor → when its oldest queued task was created (an executor with none queued is absent). */
export type OldestQueued = Record<string, string>;

/** Notes a queued task of `executor` created at `createdAt`, keeping the oldest per executor. */
export function noteQueued(oldest: OldestQueued, executor: string, createdAt: string): void {
  if (!Object.hasOwn(oldest, executor) || createdAt < oldest[executor]!) oldest[executor] = createdAt;
}

/** The oldest of every executor's oldest, or null when nothing is queued. */
export function oldestOfAll(oldest: OldestQueued): string | null {
  const times = Object.values(oldest);
  return times.length === 0 ? null : times.reduce((a, b) => (b < a ? b : a));
}

/** The counts of every executor added up by status. */
export function totalByStatus(counts: ExecutorCounts): StatusCounts {
  const total: StatusCounts = {};
  for (const row of Object.values(counts)) {
    for (const [status, n] of Object.entries(row) as [TaskStatus, number][]) total[status] = (total[status] ?? 0) + n;
  }
  return total;
}

/**
 * How many of `finishedAt` (ms since the epoch) fall in each of the `minutes` whole minutes before
 * `now`, oldest minute first; the last bucket is the minute that ends at `now`.
 */
export function finishedPerMinute(finishedAt: Iterable<number>, now: number, minutes: number): number[] {
  const buckets = new Array<number>(minutes).fill(0);
  const since = now - minutes * MINUTE_MS;
  for (const at of finishedAt) {
    if (at <= since || at > now) continue;
    // Each minute is (start, end]: the one ending at `now` holds `now`.
    buckets[Math.ceil((at - since) / MINUTE_MS) - 1]! += 1;
  }
  return buckets;
}

/** A final task as the activity charts count it; times in ms since the epoch. */
export interface EndedTask {
  executor: string;
  status: TaskStatus;
  createdAt: number;
  /** Its last try's start; null when it never ran (cancelled while it waited). */
  startedAt: number | null;
  finishedAt: number;
}

/** The spans the activity is counted in: `buckets` of `bucketMs` each, the last one ending now. */
export interface ActivityWindow {
  bucketMs: number;
  buckets: number;
}

/** The tasks of one executor that ended in one span: by status, and the waits and runs of those that ran, added up. */
export interface ActivityBucket {
  succeeded: number;
  failed: number;
  cancelled: number;
  /** How many of them ran: the waits and runs below are theirs. */
  ran: number;
  /** From creation to the start of the last try, added up. */
  waitMs: number;
  /** The last try, from its start to the task's end, added up. */
  runMs: number;
}

export type Activity = Record<string, ActivityBucket[]>;

export const emptyBucket = (): ActivityBucket => ({ succeeded: 0, failed: 0, cancelled: 0, ran: 0, waitMs: 0, runMs: 0 });

/** The tasks that ended in each span of `window` before `now`, by executor (those with none left out), oldest span first; each span is (start, end]. */
export function activityOf(ended: Iterable<EndedTask>, now: number, window: ActivityWindow): Activity {
  const since = now - window.buckets * window.bucketMs;
  const activity: Activity = {};
  for (const task of ended) {
    if (task.finishedAt <= since || task.finishedAt > now) continue;
    if (task.status !== "succeeded" && task.status !== "failed" && task.status !== "cancelled") continue;
    if (!Object.hasOwn(activity, task.executor)) activity[task.executor] = Array.from({ length: window.buckets }, emptyBucket);
    const bucket = activity[task.executor]![Math.ceil((task.finishedAt - since) / window.bucketMs) - 1]!;
    bucket[task.status] += 1;
    if (task.startedAt !== null) {
      bucket.ran += 1;
      bucket.waitMs += task.startedAt - task.createdAt;
      bucket.runMs += task.finishedAt - task.startedAt;
    }
  }
  return activity;
}

/** A final task's times for activityOf. */
export function endedTask(task: { executor: string; status: TaskStatus; createdAt: string; startedAt: string | null; finishedAt: string | null }): EndedTask {
  return {
    executor: task.executor,
    status: task.status,
    createdAt: Date.parse(task.createdAt),
    startedAt: task.startedAt === null ? null : Date.parse(task.startedAt),
    finishedAt: finishedTime(task),
  };
}
