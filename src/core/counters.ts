// The counters a journal keeps for Prometheus: how many tasks were enqueued, started, ended by
// status, retried and recovered, and how long tries waited and ran, per executor. They are
// stored beside the tasks and only ever grow, so `remove --finished`, retention and restarts leave
// them alone, as a scraper expects of a counter. Pure: a store works out a transaction's
// increments here from each task's record before and after it, and adds them up in the journal.
import { eventOf, eventsOf, type NewEvent, transitionsOf } from "./events.ts";
import type { TaskRecord } from "./task.ts";

/** The upper bounds of the wait and run time histograms' buckets, in seconds; the last bucket (+Inf) is implied. */
export const TIME_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;

/** What is counted for each executor. The histograms count each observation once, in the first bucket that holds it. */
export const COUNTER_NAMES = [
  "enqueued",
  "started",
  "succeeded",
  "failed",
  "cancelled",
  "retried",
  "recovered",
  "wait_count",
  "wait_sum_ms",
  ...TIME_BUCKETS_S.map((le) => `wait_le_${le}`),
  "wait_le_inf",
  "run_count",
  "run_sum_ms",
  ...TIME_BUCKETS_S.map((le) => `run_le_${le}`),
  "run_le_inf",
] as const;

/** Executor → counter name → count; a counter never counted is absent. */
export type Counters = Record<string, Record<string, number>>;

const NAMES: ReadonlySet<string> = new Set(COUNTER_NAMES);

/** Whether `x` is a Counters as a journal stores it: known names, whole non-negative counts. */
export function isCounters(x: unknown): x is Counters {
  if (typeof x !== "object" || x === null || Array.isArray(x)) return false;
  return Object.values(x).every(
    (row) =>
      typeof row === "object" &&
      row !== null &&
      !Array.isArray(row) &&
      Object.entries(row as Record<string, unknown>).every(([name, n]) => NAMES.has(name) && Number.isSafeInteger(n) && (n as number) >= 0),
  );
}

export function addCounter(counters: Counters, executor: string, name: string, n = 1): void {
  if (n === 0) return;
  if (!Object.hasOwn(counters, executor)) counters[executor] = {};
  const row = counters[executor]!;
  row[name] = (Object.hasOwn(row, name) ? row[name]! : 0) + n;
}

/** `delta` added into `counters`. */
export function addCounters(counters: Counters, delta: Counters): void {
  for (const [executor, row] of Object.entries(delta)) for (const [name, n] of Object.entries(row)) addCounter(counters, executor, name, n);
}

function observe(counters: Counters, executor: string, histogram: "wait" | "run", ms: number): void {
  const value = Math.max(0, Math.round(ms));
  const bucket = TIME_BUCKETS_S.find((le) => value <= le * 1000);
  addCounter(counters, executor, `${histogram}_count`);
  addCounter(counters, executor, `${histogram}_sum_ms`, value);
  addCounter(counters, executor, `${histogram}_le_${bucket ?? "inf"}`);
}

/** When the try a task starts now began to wait: the end of its previous try, or its creation. */
function waitingSince(task: TaskRecord): number {
  const previous = task.history.at(-1)?.finishedAt;
  return Date.parse(previous ?? task.createdAt);
}

/** When the running try of `task` started. */
function tryStart(task: TaskRecord): number {
  return Date.parse(task.history.at(-1)?.startedAt ?? task.startedAt ?? task.createdAt);
}

/**
 * Adds to `counters` what changed from `before` (null: the task is new) to `after` (null: it was
 * removed) at `now`: the transitions core/events.ts finds. Counts are per try: a task paused on its
 * budget and resumed is one try, and a try given back unstarted counts nothing more than its claim.
 * A recovery is counted by the store (`recovered`), beside what its verdict's record counts here.
 */
export function countChange(counters: Counters, before: TaskRecord | null, after: TaskRecord | null, now: Date): void {
  if (after === null) return;
  const executor = after.executor;
  for (const kind of transitionsOf(before, after)) {
    if (kind === "enqueued") addCounter(counters, executor, "enqueued");
    else if (kind === "started") {
      addCounter(counters, executor, "started");
      observe(counters, executor, "wait", now.getTime() - waitingSince(before!));
    } else if (kind === "succeeded" || kind === "failed" || kind === "cancelled" || kind === "retry-scheduled") {
      if (before?.status === "running") observe(counters, executor, "run", now.getTime() - tryStart(before));
      addCounter(counters, executor, kind === "retry-scheduled" ? "retried" : kind);
    } else if (kind === "retried") addCounter(counters, executor, "retried");
  }
}

/** What a transaction counted and logged so far: its counters' increments and its events, in order. */
export interface Tally {
  counts: Counters;
  events: NewEvent[];
}

/** Counts and logs the change of a task from `before` (null: new) to `after` at `now`: every store's one way to record a write. */
export function tallyChange(tally: Tally, before: TaskRecord | null, after: TaskRecord, now: Date): void {
  countChange(tally.counts, before, after, now);
  tally.events.push(...eventsOf(before, after, now));
}

/** A try whose worker died, taken back (as `after`): counted, and its event logged after those of its write. */
export function tallyRecovery(tally: Tally, after: TaskRecord, now: Date): void {
  addCounter(tally.counts, after.executor, "recovered");
  tally.events.push(eventOf("recovered", after, now));
}
