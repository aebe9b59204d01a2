// The only place a task's status changes. Each function takes a record and returns the next one;
// stores apply them inside their own transactions. Pure: time, ids and tokens come in as arguments.
import type { NewTask, TaskError, TaskRecord, TaskStatus, WorkerRef } from "./task.ts";
import { concurrencyOf, isClaimableOn, isFinal, keyOf, pinnedHostOf, priorityOf, waitingForOf } from "./task.ts";
import { retryDelay } from "./retry-policy.ts";
import { formatDuration } from "./duration.ts";

/** How a try ended, as the worker (or a recovery) reports it. */
export type TryOutcome =
  | { kind: "succeeded"; message: string | null; result: unknown }
  | { kind: "failed"; error: TaskError; message: string | null; unrecoverable?: boolean; retryAfterMs?: number | null }
  | { kind: "cancelled"; message: string | null; result?: unknown }
  | { kind: "paused"; message: string | null };

export function isRunnable(task: TaskRecord, now: Date): boolean {
  if (task.waitingFor !== undefined && task.waitingFor.length > 0) return false;
  if (task.status === "queued") return true;
  if (task.status === "scheduled" || task.status === "paused") {
    return task.nextRunAt === null || Date.parse(task.nextRunAt) <= now.getTime();
  }
  return false;
}

/** A scheduled or paused task that becomes runnable within `windowMs` (a worker may sleep for it); not one that waits for others (`--after`). */
export function isDueWithin(task: TaskRecord, now: Date, windowMs: number): boolean {
  return (
    (task.status === "scheduled" || task.status === "paused") &&
    task.nextRunAt !== null &&
    Date.parse(task.nextRunAt) - now.getTime() <= windowMs &&
    waitingForOf(task).length === 0
  );
}

/**
 * Which tasks a claim may take besides claim order, declaratively (a store can put it in a WHERE
 * clause): a tick passes over tasks it already ran (one try or slice each) and those whose timeout
 * outlasts what is left of its budget.
 */
export interface ClaimFilter {
  excludeIds?: readonly string[];
  /** Only tasks with no timeout or one of at most this many ms. */
  maxTimeoutMs?: number;
  /** Only tasks of these executors (`bgtask work --executor`). */
  executors?: readonly string[];
  /** Only tasks pinned to this host or to none (`run --on`): a worker's own host, which stores add to every claim (see claimFilterOn). */
  host?: string;
}

/** `filter` for a claim by a worker on `host`: whatever else it says, tasks pinned to other hosts are passed over. */
export function claimFilterOn(host: string, filter: ClaimFilter | undefined): ClaimFilter {
  return { ...filter, host };
}

/** The filter as a predicate, for stores that hold their tasks in memory; null when it lets every task through. */
export function claimPredicate(filter: ClaimFilter | undefined): ((task: TaskRecord) => boolean) | null {
  if (!filter || (filter.excludeIds === undefined && filter.maxTimeoutMs === undefined && filter.executors === undefined && filter.host === undefined))
    return null;
  const excluded = new Set(filter.excludeIds ?? []);
  const executors = filter.executors === undefined ? null : new Set(filter.executors);
  const { maxTimeoutMs, host } = filter;
  return (task) =>
    !excluded.has(task.id) &&
    (maxTimeoutMs === undefined || task.timeoutMs === null || task.timeoutMs <= maxTimeoutMs) &&
    (executors === null || executors.has(task.executor)) &&
    (host === undefined || isClaimableOn(task, host));
}

/** Queues stopped by `bgtask pause` (by executor name): nothing of theirs is claimed. */
export type PausedQueues = ReadonlySet<string>;

export const NO_PAUSED_QUEUES: PausedQueues = new Set();

/**
 * Claim order, iTop's: tries due again after a failure or a dead worker first, then paused tasks
 * (the longest paused first, so several share the workers round-robin), then new work; within each,
 * higher priority first, then oldest first. Tasks whose serial key is busy wait, and so do those
 * whose executor runs its `concurrency` already, those of a paused queue, and those the filter
 * turns down.
 */
export function pickNext(tasks: readonly TaskRecord[], now: Date, filter?: ClaimFilter, paused: PausedQueues = NO_PAUSED_QUEUES): TaskRecord | undefined {
  return pickFirst(tasks, now, 1, filter, paused)[0];
}

/**
 * The first `count` tasks in claim order (see pickNext), in one pass over `tasks`. Serial keys
 * and executor limits count the tasks taken before in the same pick, as if each were already
 * running: a claim for many slots starts them all at once. One passed over for that is not
 * replaced by a later one, so a pick may come back shorter than `count`.
 */
export function pickFirst(tasks: readonly TaskRecord[], now: Date, count: number, filter?: ClaimFilter, paused: PausedQueues = NO_PAUSED_QUEUES): TaskRecord[] {
  const { candidates, running } = claimCandidates(tasks, now, count, filter, paused);
  return candidates.length < 2 ? candidates : candidates.filter(clashGuard(running));
}

/**
 * pickFirst before its clashes are dropped: the first `count` tasks in claim order that each may
 * start on its own, and the running tries by executor when a limit was looked at. A store that
 * merges more candidates in (the file journal's cold queue) passes the merged ones through
 * clashGuard in claim order.
 */
export function claimCandidates(
  tasks: readonly TaskRecord[],
  now: Date,
  count: number,
  filter?: ClaimFilter,
  paused: PausedQueues = NO_PAUSED_QUEUES,
): { candidates: TaskRecord[]; running: ReadonlyMap<string, number> | undefined } {
  const accept = claimPredicate(filter);
  // Called on every claim over the whole active set (10,000s queued): one cheap look per task, and
  // the busy serial keys and running counts only looked for when a task that would be taken has a limit.
  let busy: Set<string> | undefined;
  let running: Map<string, number> | undefined;
  const best: TaskRecord[] = [];
  for (const task of tasks) {
    if (!isRunnable(task, now)) continue;
    if (best.length === count && compareClaimOrder(task, best[count - 1]!) >= 0) continue;
    if (paused.size > 0 && paused.has(task.executor)) continue;
    if (task.serialKey !== null && (busy ??= busySerialKeys(tasks)).has(task.serialKey)) continue;
    const limit = concurrencyOf(task);
    if (limit !== null && ((running ??= runningByExecutor(tasks)).get(task.executor) ?? 0) >= limit) continue;
    if (accept && !accept(task)) continue;
    let at = best.length;
    while (at > 0 && compareClaimOrder(task, best[at - 1]!) < 0) at -= 1;
    best.splice(at, 0, task);
    if (best.length > count) best.pop();
  }
  return { candidates: best, running };
}

/** `picked` (in claim order) less those whose serial key or executor limit (`running`: tries by executor) the ones before them fill. */
export function withoutClashes(picked: readonly TaskRecord[], running: ReadonlyMap<string, number> | undefined): TaskRecord[] {
  return picked.filter(clashGuard(running));
}

/**
 * Asked of each task in claim order: whether it may start beside the ones it said yes to before
 * (their serial keys and executor limits, over `running`: tries by executor), counting it if so.
 */
export function clashGuard(running: ReadonlyMap<string, number> | undefined): (task: TaskRecord) => boolean {
  const keys = new Set<string>();
  const counts = new Map(running);
  return (task) => {
    if (task.serialKey !== null && keys.has(task.serialKey)) return false;
    const limit = concurrencyOf(task);
    const count = counts.get(task.executor) ?? 0;
    if (limit !== null && count >= limit) return false;
    if (task.serialKey !== null) keys.add(task.serialKey);
    counts.set(task.executor, count + 1);
    return true;
  };
}

function busySerialKeys(tasks: readonly TaskRecord[]): Set<string> {
  const busy = new Set<string>();
  for (const task of tasks) if (task.status === "running" && task.serialKey !== null) busy.add(task.serialKey);
  return busy;
}

function runningByExecutor(tasks: readonly TaskRecord[]): Map<string, number> {
  const running = new Map<string, number>();
  for (const task of tasks) if (task.status === "running") running.set(task.executor, (running.get(task.executor) ?? 0) + 1);
  return running;
}

/** Claim order's rank (see pickNext): 0 for tries due again, 1 for paused tasks, 2 for new work. */
export function claimRank(task: TaskRecord): number {
  if (task.status === "paused") return 1;
  return task.tries > 0 ? 0 : 2;
}

/** Negative when `a` is claimed before `b`. */
export function compareClaimOrder(a: TaskRecord, b: TaskRecord): number {
  const rank = claimRank(a) - claimRank(b);
  if (rank !== 0) return rank;
  const priority = priorityOf(b) - priorityOf(a);
  if (priority !== 0) return priority;
  if (a.status === "paused" && a.nextRunAt !== b.nextRunAt) return (a.nextRunAt ?? "") < (b.nextRunAt ?? "") ? -1 : 1;
  return compareIds(a.id, b.id);
}

/** A task that sorts by its id alone among new work, and waits for nothing but a worker: what may wait in a store's cold queue. */
export function sortsById(task: TaskRecord): boolean {
  return (
    task.status === "queued" &&
    task.serialKey === null &&
    priorityOf(task) === 0 &&
    keyOf(task) === null &&
    concurrencyOf(task) === null &&
    waitingForOf(task).length === 0 &&
    pinnedHostOf(task) === null
  );
}

export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

export function claim(task: TaskRecord, worker: WorkerRef, lease: string, now: Date): TaskRecord {
  const at = now.toISOString();
  const timeoutAt = task.timeoutMs !== null ? new Date(now.getTime() + task.timeoutMs).toISOString() : null;
  // Resuming a paused task continues the same try: only a fresh start counts as a new one.
  if (task.status === "paused") {
    return { ...task, status: "running", nextRunAt: null, worker, lease, heartbeatAt: at, timeoutAt, cancelRequestedAt: null };
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
    // The last try's message and error would read as this one's; `history` keeps them.
    message: null,
    error: null,
    startedAt: at,
    finishedAt: null,
    nextRunAt: null,
    worker,
    lease,
    heartbeatAt: at,
    timeoutAt,
    cancelRequestedAt: null,
    history: [...task.history, { try: tries, startedAt: at, finishedAt: null, status: "running", error: null, worker }],
  };
}

function closeTry(task: TaskRecord, status: TaskStatus, error: TaskError | null, now: Date): TaskRecord["history"] {
  return task.history.map((entry, i) =>
    i === task.history.length - 1 && entry.finishedAt === null ? { ...entry, finishedAt: now.toISOString(), status, error } : entry,
  );
}

/**
 * Applies the end of a try: final, or scheduled for the next try by the retry policy, or paused.
 * A try that fails or pauses after its cancel was requested ends the task `cancelled`: a task the
 * user cancelled is never retried. One that succeeds before its worker saw the request keeps its
 * success (the work was done); one that returns after its signal was aborted was cancelled (the
 * worker records that itself, see executeTry).
 */
export function settle(task: TaskRecord, outcome: TryOutcome, now: Date, random?: () => number): TaskRecord {
  if (task.cancelRequestedAt && (outcome.kind === "failed" || outcome.kind === "paused")) {
    outcome = { kind: "cancelled", message: "cancelled" };
  }
  const base = { ...task, lease: null, heartbeatAt: null, worker: null, timeoutAt: null, cancelRequestedAt: null };
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
        // Earlier tries' errors stay in `history`; the task itself did not end in error.
        error: null,
        finishedAt: at,
        history: closeTry(task, "succeeded", null, now),
      };
    case "cancelled":
      return {
        ...base,
        status: "cancelled",
        completed: true,
        message: outcome.message ?? "cancelled",
        result: outcome.result ?? null,
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

/**
 * A first try of a task with no serial key, no concurrency limit and no steps: what a worker may
 * claim ahead into its local queue (a limit is counted before the claim, so only its first task may
 * have one). A task claimed ahead can still be overtaken by one of higher priority enqueued after
 * it, for as long as the local queue lasts: a batch of tries under runner.ts's FAST_TRY_MS each, or
 * its HOLD_MS, after which the queue is given back.
 */
export function isFreshPlain(task: TaskRecord): boolean {
  return task.status === "queued" && task.tries === 0 && task.serialKey === null && concurrencyOf(task) === null && task.step === null;
}

/**
 * Whether a claim that already took `taken` tasks may take `task` too: the first `starting` (as
 * many as the worker has free slots) start at once and may be any task; the ones claimed ahead of
 * their start only what can be given back as it was.
 */
export function mayClaimAhead(taken: number, task: TaskRecord, starting = 1): boolean {
  return taken < starting || isFreshPlain(task);
}

/** A claimed first try that never started (a worker's local queue): queued as before the claim, no try counted. */
export function canGiveBack(task: TaskRecord): boolean {
  return task.status === "running" && task.tries === 1 && task.history.length === 1 && task.step === null;
}

/** The task as it was before its claim (see canGiveBack); a cancel asked meanwhile then ends it, with no try. */
export function giveBack(task: TaskRecord, now: Date): TaskRecord {
  const queued: TaskRecord = {
    ...task,
    status: "queued",
    tries: 0,
    remainingTries: task.maxTries,
    startedAt: null,
    worker: null,
    lease: null,
    heartbeatAt: null,
    timeoutAt: null,
    cancelRequestedAt: null,
    history: [],
  };
  return task.cancelRequestedAt ? cancel(queued, now) : queued;
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

/** `bgtask cancel`: a task that is not running ends at once; a running one is asked to stop. */
export function cancel(task: TaskRecord, now: Date): TaskRecord {
  if (isFinal(task.status)) return task;
  if (task.status === "running") return task.cancelRequestedAt ? task : { ...task, cancelRequestedAt: now.toISOString() };
  return settle(task, { kind: "cancelled", message: "cancelled" }, now);
}

/** What `bgtask cancel` does to a task: ends one that is not running, asks a running one to stop, or finds it final. */
export type CancelEffect = "cancelled" | "requested" | "final";

export function cancelEffect(task: TaskRecord): CancelEffect {
  if (isFinal(task.status)) return "final";
  return task.status === "running" ? "requested" : "cancelled";
}

/** What `bgtask retry` did to a task: queued it again, or not (not final, or its key held by `heldBy`). */
export interface RetryResult {
  task: TaskRecord;
  queued: boolean;
  heldBy?: TaskRecord;
}

/**
 * `bgtask retry` of a task found in a store whose tasks that are not final include `active`: the
 * task queued again (`put` stores it), or why not. A key held by another task that is not final
 * refuses the retry, or two tasks of one key would wait at once, against `run --key`'s promise.
 */
export function retryIn<T extends TaskRecord>(task: T, active: Iterable<TaskRecord>, put: (queued: TaskRecord) => T): RetryResult {
  if (!isFinal(task.status)) return { task, queued: false };
  const heldBy = findKeyed(active, task);
  if (heldBy) return { task, queued: false, heldBy };
  return { task: put(rerun(task)), queued: true };
}

/** `bgtask retry`: a final task queued again for one more try at least; its count goes on. */
export function rerun(task: TaskRecord): TaskRecord {
  if (!isFinal(task.status)) throw new Error(`rerun of a ${task.status} task`);
  const maxTries = Math.max(task.maxTries, task.tries + 1);
  return {
    ...task,
    status: "queued",
    completed: false,
    maxTries,
    remainingTries: maxTries - task.tries,
    nextRunAt: null,
    finishedAt: null,
    // Run again now: what it ran after has ended, one way or the other.
    ...(task.waitingFor !== undefined ? { waitingFor: [] } : {}),
  };
}

/** A scheduled task whose time has come becomes queued (what `list` then shows); others are returned as they are. */
export function promote(task: TaskRecord, now: Date): TaskRecord {
  if (task.status !== "scheduled" || task.nextRunAt === null || Date.parse(task.nextRunAt) > now.getTime()) return task;
  return { ...task, status: "queued", nextRunAt: null };
}

/**
 * How long a process other than the worker waits past the grace period before forcing a try
 * itself: the worker's own supervisor gets the first chance, so one try is not forced twice.
 */
export const OUTSIDE_FORCE_MARGIN_MS = 1_000;

/**
 * Whether a running try must be forced to end now: its cancel or its timeout came at least the
 * grace period (plus `marginMs`) ago and it is still running. Returns the outcome to record, or null.
 */
export function overdueOutcome(task: TaskRecord, now: Date, graceMs: number, marginMs = 0): TryOutcome | null {
  if (task.status !== "running") return null;
  const due = (iso: string | null | undefined) => !!iso && now.getTime() >= Date.parse(iso) + graceMs + marginMs;
  if (due(task.cancelRequestedAt)) return forcedOutcome(task, "cancelled", graceMs);
  if (due(task.timeoutAt)) return forcedOutcome(task, "timeout", graceMs);
  return null;
}

export type ForceReason = "cancelled" | "timeout" | "shutdown";

/** The outcome of a try that had to be stopped by killing its worker. */
export function forcedOutcome(task: Pick<TaskRecord, "timeoutMs">, reason: ForceReason, graceMs: number, detail?: string): TryOutcome {
  const after = `it did not stop within ${formatDuration(graceMs)} of being asked, so its worker was killed`;
  if (reason === "cancelled") return { kind: "cancelled", message: `cancelled (${after})` };
  const message = reason === "timeout" ? `${timedOutMessage(task)} (${after})` : (detail ?? "worker stopped");
  return { kind: "failed", message, error: { message, stack: null, where: null } };
}

/** Why a try was stopped at its time limit: its own timeout, or (none set) the end of a tick's budget. */
export function timedOutMessage(task: Pick<TaskRecord, "timeoutMs">): string {
  if (task.timeoutMs === null) {
    return "stopped at the end of the tick's time budget (--max-time): give the executor a timeout within the budget, split it into steps, or let a worker run it";
  }
  return `timed out after ${formatDuration(task.timeoutMs)}`;
}

/** How a task that others run after ended, as its dependents are told. */
export interface Ended {
  id: string;
  status: TaskStatus | "removed";
}

/**
 * What `ended` does to the tasks waiting for them (`run --after`): a success is one fewer to wait
 * for; a failure, a cancel or a removal cancels the dependent with a message naming it, and so, in
 * turn, the tasks waiting for that one. Returns the dependents changed, each once, as they end up.
 */
export function releaseDependents(tasks: readonly TaskRecord[], ended: readonly Ended[], now: Date): TaskRecord[] {
  const waiting = tasks.filter((t) => waitingForOf(t).length > 0 && !isFinal(t.status));
  if (waiting.length === 0) return [];
  const changed = new Map<string, TaskRecord>();
  const pending = [...ended];
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    const { id, status } = next;
    for (const original of waiting) {
      const task = changed.get(original.id) ?? original;
      if (isFinal(task.status) || !waitingForOf(task).includes(id)) continue;
      if (status === "succeeded") {
        changed.set(task.id, { ...task, waitingFor: waitingForOf(task).filter((other) => other !== id) });
        continue;
      }
      const why = status === "removed" ? "was removed" : status === "failed" ? "failed" : "was cancelled";
      const cancelled = settle(task, { kind: "cancelled", message: `cancelled: task ${id}, which it runs after, ${why}` }, now);
      changed.set(task.id, cancelled);
      pending.push({ id: task.id, status: "cancelled" });
    }
  }
  return [...changed.values()];
}

/**
 * A new task's wait for the tasks it runs after, given how each stands now: those that succeeded
 * are not waited for; one that failed or was cancelled already cancels it at once, as it would
 * have later, so a chain behaves the same whatever ended first.
 */
export function afterDependencies(task: TaskRecord, dependencies: readonly TaskRecord[], now: Date): TaskRecord {
  const ended = dependencies.find((d) => d.status === "failed" || d.status === "cancelled");
  if (ended) {
    const why = ended.status === "failed" ? "failed" : "was cancelled";
    return settle(task, { kind: "cancelled", message: `cancelled: task ${ended.id}, which it runs after, ${why}` }, now);
  }
  return { ...task, waitingFor: dependencies.filter((d) => d.status !== "succeeded").map((d) => d.id) };
}

/** What a `run --key` found: a new task, one already there kept, or one replaced (`--replace`); `running`: it had started, so it was kept. */
export type KeyOutcome = "created" | "existing" | "replaced" | "running";

/** The task not yet final with the same executor and key as `input`, if any. */
export function findKeyed(tasks: Iterable<TaskRecord>, input: Pick<NewTask, "executor" | "key">): TaskRecord | undefined {
  if (input.key === undefined || input.key === null) return undefined;
  for (const task of tasks) if (task.key === input.key && task.executor === input.executor && !isFinal(task.status)) return task;
  return undefined;
}

/**
 * graphile-worker's job_key_mode "replace": a task that still waits (queued or scheduled) takes the
 * new context and run time; one that has started (running, or paused between steps) is kept as it is.
 */
export function replaceKeyed(task: TaskRecord, input: NewTask, now: Date): { task: TaskRecord; outcome: KeyOutcome } {
  if (!input.replace) return { task, outcome: "existing" };
  if (task.status !== "queued" && task.status !== "scheduled") return { task, outcome: "running" };
  const scheduled = input.runAt !== null && input.runAt.getTime() > now.getTime();
  return {
    task: { ...task, context: input.context, status: scheduled ? "scheduled" : "queued", nextRunAt: scheduled ? input.runAt!.toISOString() : null },
    outcome: "replaced",
  };
}
