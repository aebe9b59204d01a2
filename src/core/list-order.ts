// The order `list` shows tasks in, and which ones a limit keeps. Pure: a store picks the
// candidates (its active tasks and its newest finished ones) and this decides.
import type { TaskRecord } from "./task.ts";
import { compareIds } from "./transitions.ts";

const isUnderway = (task: TaskRecord) => task.status === "running" || task.status === "paused";

/**
 * Active tasks come first, the ones about to matter most: running and paused, then the scheduled
 * and queued next in line (by id). Negative when `a` is kept before `b` under a limit.
 */
function compareListPriority(a: TaskRecord, b: TaskRecord): number {
  return Number(isUnderway(b)) - Number(isUnderway(a)) || compareIds(a.id, b.id);
}

/**
 * What a list with `limit` shows, in id order: the active tasks by priority, then the finished ones
 * (given newest finished first) filling what the limit leaves.
 */
export function listed(active: readonly TaskRecord[], newestFinals: readonly TaskRecord[], limit = Infinity): TaskRecord[] {
  const kept = [...active].sort(compareListPriority).slice(0, limit);
  const finals = newestFinals.slice(0, Math.max(0, limit - kept.length));
  return [...kept, ...finals].sort((a, b) => compareIds(a.id, b.id));
}

/** How many finished tasks a list with `limit` may show beside `activeCount` active ones. */
export function finalsWanted(activeCount: number, limit = Infinity): number {
  return Math.max(0, limit - activeCount);
}

/** Newest finished first: what fills a list's limit after the active tasks. */
export function compareNewestFinished(a: TaskRecord, b: TaskRecord): number {
  return (b.finishedAt ?? "").localeCompare(a.finishedAt ?? "") || compareIds(b.id, a.id);
}
