// The order `list` shows tasks in, and which ones a limit keeps. Pure: a store picks the
// candidates (its active tasks and its newest finished ones) and this decides.
import type { TaskRecord, TaskStatus } from "./task.ts";
import { compareClaimOrder, compareIds } from "./transitions.ts";

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

/** How a page of the task table is ordered: the active tasks newest first, or in the order workers take them. */
export type PageOrder = "newest" | "claim";

/** Active tasks on a page; the finished ones that follow them are always newest finished first. */
export function compareActiveOnPage(order: PageOrder): (a: TaskRecord, b: TaskRecord) => number {
  return order === "newest" ? (a, b) => compareIds(b.id, a.id) : (a, b) => Number(isUnderway(b)) - Number(isUnderway(a)) || compareClaimOrder(a, b);
}

/** What a page shows: status, executor, and a search that is a task id, or a piece (any case) of its message or of a text anywhere in its context. */
export interface PageMatch {
  statuses?: readonly TaskStatus[];
  executor?: string;
  search?: string;
}

export function matchesPage(task: TaskRecord, match: PageMatch): boolean {
  if (match.statuses && !match.statuses.includes(task.status)) return false;
  if (match.executor && task.executor !== match.executor) return false;
  if (!match.search) return true;
  const needle = match.search.toLowerCase();
  return task.id === match.search || (task.message ?? "").toLowerCase().includes(needle) || hasText(task.context, needle);
}

/** Whether a string anywhere in `value` (at any depth, keys aside) contains `needle`, already in lower case. */
function hasText(value: unknown, needle: string): boolean {
  if (typeof value === "string") return value.toLowerCase().includes(needle);
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value).some((inner) => hasText(inner, needle));
}

/** Merges two sequences each already in `compare` order, lazily. */
export function* mergeOrdered<T>(a: Iterable<T>, b: Iterable<T>, compare: (x: T, y: T) => number): Generator<T> {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  let x = left.next();
  let y = right.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && compare(x.value, y.value) <= 0)) {
      yield x.value as T;
      x = left.next();
    } else {
      yield y.value;
      y = right.next();
    }
  }
}
