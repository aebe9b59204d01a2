// The only place a task's status changes. Each function takes a record and returns the next one;
// stores apply them inside their own transactions. Pure: time, ids and tokens come in as arguments.
import type { TaskError, TaskRecord, TaskStatus, WorkerRef } from "./task.ts";
import { isFinal } from "./task.ts";
import { retryDelay } from "./retry-policy.ts";

/** How a try ended, as the worker (or a recovery) reports it. */
export type TryOutcome =
  | { kind: "succeeded"; message: string | null; result: unknown }
  | { kind: "failed"; error: TaskError; message: string | null; unrecoverable?: boolean; retryAfterMs?: number | null }
  | { kind: "cancelled"; message: string | null }
  | { kind: "paused"; message: string | null };

export function isRunnable(task: TaskRecord, now: Date): boolean {
  if (task.status === "queued") return true;
  if (task.status === "scheduled" || task.status === "paused") {
    return task.nextRunAt === null || Date.parse(task.nextRunAt) <= now.getTime();
  }
  return false;
}

/**
 * Claim order, iTop's: tries due again after a failure or a dead worker first, then paused tasks
 * (the longest paused first, so several share the workers round-robin), then new work; oldest
 * first within each. Tasks whose serial key is busy wait, and so do ids in `exclude` (a tick
 * gives each task at most one slice).
 */
export function pickNext(tasks: readonly TaskRecord[], now: Date, exclude?: ReadonlySet<string>): TaskRecord | undefined {
  const busy = new Set(tasks.filter((t) => t.status === "running" && t.serialKey !== null).map((t) => t.serialKey));
  let best: TaskRecord | undefined;
  for (const task of tasks) {
    if (!isRunnable(task, now) || (task.serialKey !== null && busy.has(task.serialKey)) || exclude?.has(task.id)) continue;
    if (best === undefined || compareClaimOrder(task, best) < 0) best = task;
  }
  return best;
}

function claimRank(task: TaskRecord): number {
  if (task.status === "paused") return 1;
  return task.tries > 0 ? 0 : 2;
}

function compareClaimOrder(a: TaskRecord, b: TaskRecord): number {
  const rank = claimRank(a) - claimRank(b);
  if (rank !== 0) return rank;
  if (a.status === "paused" && a.nextRunAt !== b.nextRunAt) return (a.nextRunAt ?? "") < (b.nextRunAt ?? "") ? -1 : 1;
  return compareIds(a.id, b.id);
}

export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function claim(task: TaskRecord, worker: WorkerRef, lease: string, now: Date): TaskRecord {
  const at = now.toISOString();
  // Resuming a paused task continues the same try: only a fresh start counts as a new one.
  if (task.status === "paused") {
    return { ...task, status: "running", nextRunAt: null, worker, lease, heartbeatAt: at };
  }
  const tries = task.tries + 1;
  return {
    ...task,
    status: "running",
    completed: false,
    tries,
    remainingTries: Math.max(0, task.maxTries - tries),
    // A fresh try of a plain task starts its bar again; a task made of steps resumes where it was.
    progress: task.step === null ? 0 : task.progress,
    startedAt: at,
    finishedAt: null,
    nextRunAt: null,
    worker,
    lease,
    heartbeatAt: at,
    history: [...task.history, { try: tries, startedAt: at, finishedAt: null, status: "running", error: null, worker }],
  };
}

function closeTry(task: TaskRecord, status: TaskStatus, error: TaskError | null, now: Date): TaskRecord["history"] {
  return task.history.map((entry, i) =>
    i === task.history.length - 1 && entry.finishedAt === null ? { ...entry, finishedAt: now.toISOString(), status, error } : entry,
  );
}

/** Applies the end of a try: final, or scheduled for the next try by the retry policy, or paused. */
export function settle(task: TaskRecord, outcome: TryOutcome, now: Date, random?: () => number): TaskRecord {
  const base = { ...task, lease: null, heartbeatAt: null, worker: null };
  const at = now.toISOString();
  switch (outcome.kind) {
    case "succeeded":
      return {
        ...base,
        status: "succeeded",
        completed: true,
        progress: 100,
        message: outcome.message ?? task.message,
        result: outcome.result ?? null,
        finishedAt: at,
        history: closeTry(task, "succeeded", null, now),
      };
    case "cancelled":
      return {
        ...base,
        status: "cancelled",
        completed: true,
        message: outcome.message ?? "cancelled",
        finishedAt: at,
        nextRunAt: null,
        history: closeTry(task, "cancelled", null, now),
      };
    case "paused":
      // nextRunAt records when it paused: it is due at once, behind tasks that paused before it.
      return { ...base, status: "paused", message: outcome.message ?? task.message, nextRunAt: at };
    case "failed": {
      const delay = outcome.unrecoverable ? null : (outcome.retryAfterMs ?? retryDelay(task.retry, task.tries, random));
      const canRetry = delay !== null && task.tries < task.maxTries;
      return {
        ...base,
        status: canRetry ? "scheduled" : "failed",
        completed: !canRetry,
        message: outcome.message ?? outcome.error.message,
        error: outcome.error,
        remainingTries: canRetry ? task.remainingTries : 0,
        nextRunAt: canRetry ? new Date(now.getTime() + delay).toISOString() : null,
        finishedAt: canRetry ? null : at,
        history: closeTry(task, "failed", outcome.error, now),
      };
    }
  }
}

/** A running task whose worker is gone: the try counts as failed with a message saying so. */
export function recoverFromDeadWorker(task: TaskRecord, now: Date, reason: string): TaskRecord {
  const who = task.worker ? `pid ${task.worker.pid} on ${task.worker.host}` : "unknown";
  const message = `the worker running this task died (${who}): ${reason}`;
  return settle(task, { kind: "failed", message, error: { message, stack: null, where: null } }, now);
}

export function isHeldBy(task: TaskRecord, lease: string): boolean {
  return task.status === "running" && task.lease === lease && !isFinal(task.status);
}
