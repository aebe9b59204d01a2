// What `bgtask stats` and the dashboard's overview count: tasks by executor and status, and how
// many finished in each of the last minutes. Pure: stores feed the tasks (or their own counters)
// in, and time comes in as an argument.
import type { TaskStatus } from "./task.ts";

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
