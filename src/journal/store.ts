// The one seam between bgtask and where tasks are kept. Commands and workers hold a JournalStore;
// only the files in journal/ know what is behind it. Each operation is one statement or one
// transaction, with no callback into the caller while it runs: the rules are core/'s (claim order,
// transitions, recovery verdicts, slot demand, list order), and facts only a host can know (is
// that process alive? what does its beat file say?) are gathered by the caller beforehand, from
// what `survey` returns, and passed in as verdicts. Killing a process happens outside the store.
import type { CancelEffect, ClaimFilter, KeyOutcome, RetryResult, TryOutcome } from "../core/transitions.ts";
import type { JournalClock, TickHolder, TryVerdict } from "../core/recovery.ts";
import type { NewTask, TaskRecord, TaskStatus, WorkerRef } from "../core/task.ts";
import type { WorkerSlot } from "../core/workers.ts";
import type { PageMatch, PageOrder } from "../core/list-order.ts";
import type { Activity, ActivityWindow, ExecutorCounts, OldestQueued } from "../core/stats.ts";
import type { Schedule, ScheduleState } from "../core/schedule.ts";
import type { TaskOutput } from "./task-output.ts";
import type { Counters } from "../core/counters.ts";
import type { TaskEvent } from "../core/events.ts";

export type { ClaimFilter, KeyOutcome } from "../core/transitions.ts";
export type { JournalClock, TickHolder, TryVerdict } from "../core/recovery.ts";
export type { WorkerSlot } from "../core/workers.ts";
export type { ScheduleState } from "../core/schedule.ts";

export interface ListFilter {
  statuses?: readonly TaskStatus[];
  executor?: string;
  /** Only the tasks run with this `--key`. */
  key?: string;
  /** Only these tasks (a live view following some). */
  ids?: readonly string[];
  /** At most this many tasks, as core/list-order.ts picks them: active ones first, then the newest finished. */
  limit?: number;
}

/** A page of the task table: the active tasks (ordered by `order`), then the finished ones newest finished first. */
export interface PageFilter extends PageMatch {
  order: PageOrder;
  /** Tasks to pass over before the page starts. */
  offset: number;
  limit: number;
}

/** What the overview counts, as of one read. */
export interface StoreStats {
  /** Every task there is, by executor and status. */
  counts: ExecutorCounts;
  /**
   * Per executor, when its oldest queued task was created (none queued: absent). The file journal
   * looks at most COLD_SCAN_LINES into its cold queue for an executor's first cold task: past that,
   * it gives the creation of the last line it read, which is older (an age too high, never too low).
   */
  oldestQueued: OldestQueued;
  /** Tasks that became final in each of the last minutes, oldest minute first (core/stats.ts's finishedPerMinute). */
  finishedPerMinute: number[];
}

/** What a running try may change about its task (all optional; absent fields are left alone). */
export interface TaskReport {
  progress?: number;
  message?: string | null;
  attributes?: Record<string, unknown>;
  state?: Record<string, unknown>;
  step?: TaskRecord["step"];
  attachments?: TaskRecord["attachments"];
}

/**
 * Asks for a worker slot on `host` when core/workers.ts's wantsWorker says one more worker is
 * wanted. `deadSlots` are this host's registered slots whose process the caller found gone
 * (see `survey`): they are freed first and not counted.
 */
export interface SlotRequest {
  host: string;
  maxWorkers: number;
  /** Tasks at once in each worker: a worker is wanted for each `places` of work. */
  places: number;
  /** Scheduled tasks due within this count as work for a worker (it waits for them, sleeping). */
  scheduleWindowMs: number;
  /** A schedule's next slot is within the window: counted as one task of work (a worker sleeps for it). */
  scheduleDue: boolean;
  deadSlots: readonly string[];
}

export interface EnqueueResult {
  /** One per input, in order: the task stored, or the one its key found (see `outcomes`). */
  tasks: TaskRecord[];
  /** Per input: "created", or what its key did (core's KeyOutcome). */
  outcomes: KeyOutcome[];
  /** A worker slot reserved for the caller to start a worker in, or null when enough run (or none was asked for). */
  workerSlot: string | null;
}

/** What the caller decided about other workers, from a `survey`: applied first, in the same transaction. */
export interface Recovery {
  /** Verdicts on running tries (core/recovery.ts), each applied only while its lease still holds the task. */
  verdicts: readonly TryVerdict[];
  /** Slots of the caller's host whose process is gone: freed. */
  deadSlots: readonly string[];
}

/** What a caller needs to judge other workers: read only. */
export interface Survey {
  /** Every running try, on every host. */
  running: TaskRecord[];
  /** The worker slots of the host asked about (and slots that name no host). */
  slots: WorkerSlot[];
}

export interface RecoverResult {
  /** Tries of dead or silent workers that were ended or given back. */
  recovered: string[];
  /** Overdue tries that were ended: the caller kills their workers next (see forceEnd). */
  forced: string[];
  /** Scheduled tasks whose time had come, now queued, in id order. */
  promoted: string[];
}

export type { CancelEffect, RetryResult } from "../core/transitions.ts";

export interface RemoveFinishedOptions {
  onlyIfOldestBefore?: Date;
  executor?: string;
}

export interface RemoveResult {
  removed: TaskRecord[];
  /** Ids refused because their task is running; when any id is refused or missing nothing is removed. */
  running: string[];
  missing: string[];
}

/** Whether a try is still this worker's, and whether it was asked to stop. */
export interface TryControl {
  held: boolean;
  cancelRequestedAt: string | null;
}

/** How one try ended, to be recorded under its lease. */
export interface TryEnd {
  id: string;
  lease: string;
  outcome: TryOutcome;
}

/** What a worker hands over in one transaction: its usual step between tasks. */
export interface Exchange {
  /** Tries that ended, recorded under their leases. */
  ends: readonly TryEnd[];
  /** Claimed tries it never started (its local queue), queued again as they were: no try counted. */
  giveBack: readonly { id: string; lease: string }[];
  /**
   * Claim up to this many in claim order: the first `start` of them any task (they start at once,
   * in free slots; core's pickFirst counts their serial keys and limits among them), the ones
   * after those only while each is a fresh plain task (isFreshPlain), claimed ahead of its start.
   */
  claim: number;
  /** How many of the claimed start at once (default 1); see `claim`. */
  start?: number;
  filter?: ClaimFilter;
  /** Applied after the ends and give-backs (a verdict on one of them no longer holds) and before the claim, so a lost try can be the one claimed. */
  recovery?: Recovery;
}

export interface ExchangeResult {
  /** Per end: the settled task, or null when its lease was no longer the task's. */
  settled: Array<TaskRecord | null>;
  /** What was claimed: nothing when any lease was lost, since a worker presumed dead must stop. */
  next: TaskRecord[];
  /** What the exchange's recovery did, or null without one: the caller kills the workers of the `forced` tries. */
  recovered: RecoverResult | null;
  /** Set when the worker must claim nothing more (a journal migrated past what it knows), saying why: it finishes what it holds and exits. */
  stopClaiming?: string;
}

export interface RetireResult {
  retired: boolean;
  /** When not retired because a scheduled task is due soon: when it is due. */
  nextDueAt: string | null;
}

/** One schedule to fire: its rule, and the task each due slot makes (the executor's settings applied by the caller). */
export interface ScheduleFiring {
  schedule: Schedule;
  task: Omit<NewTask, "runAt" | "schedule">;
}

export interface FireRequest {
  firings: readonly ScheduleFiring[];
  /** core/schedule.ts's on-time window: slots older than this (and than the catch-up window) are missed. */
  onTimeMs: number;
}

/** What `bgtask journal copy` writes into another journal: every task as it is, and the journal's queue and schedule states. */
export interface JournalCopy {
  tasks: readonly TaskRecord[];
  pausedQueues: readonly string[];
  schedules: Readonly<Record<string, ScheduleState>>;
  /** The source's counters, added to the copy's (its tasks count as nothing new there). */
  counters: Counters;
}

/**
 * Called after tasks changed (soon, maybe coalesced) with the ids of the tasks that changed, or
 * null when the store cannot tell which (then any may have).
 */
export type ChangeListener = (ids: readonly string[] | null) => void;

export interface JournalStore {
  /** Where the journal lives, for messages. */
  readonly location: string;

  /**
   * Inserts tasks durably (all or nothing) and, when `workers` asks, reserves a worker slot: one
   * transaction. An input with a key whose executor has a task with that key not yet final creates
   * none (or replaces that one's context and run time, with `replace`, while it waits); inputs
   * are taken in order, so a later one finds an earlier one's task. An input `after` an id that is
   * no task throws TaskNotFoundError and nothing is stored. Dependencies that already failed or
   * were cancelled store the task cancelled (core's afterDependencies).
   */
  enqueue(tasks: readonly NewTask[], now: Date, workers: SlotRequest | null): Promise<EnqueueResult>;

  /** Updates a running try's task and its heartbeat; throws LeaseLostError when `lease` is no longer the task's. One statement. */
  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void>;

  // Every operation that ends a task (settle, exchange, forceEnd, cancel, recover, remove) also
  // applies core's releaseDependents to the tasks waiting for it, in the same transaction.

  /** Ends a try (core's settle); throws LeaseLostError when `lease` is no longer the task's. One statement. */
  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord>;

  /**
   * One transaction: records ended tries, gives back unstarted ones, applies `recovery`, then
   * claims up to `claim` tasks for `worker` in claim order (core's pickFirst) through `filter`.
   */
  exchange(worker: WorkerRef, now: Date, exchange: Exchange): Promise<ExchangeResult>;

  /** Records that `worker` runs in `slot` (on its host), reserving the slot if nobody did. One statement. */
  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void>;

  /** Frees `slot` unless work is runnable, or a scheduled task is due within `scheduleWindowMs` (the worker sleeps for it). One transaction. */
  retireWorker(slot: string, now: Date, scheduleWindowMs: number): Promise<RetireResult>;

  /** Reserves a worker slot as enqueue does, first freeing `releasing` (the slot of a worker about to exit). One transaction. */
  reserveWorker(now: Date, request: SlotRequest, releasing?: string): Promise<string | null>;

  /** Frees a worker's slot unconditionally (it is exiting). One statement. */
  releaseWorker(slot: string): Promise<void>;

  /** One task, wherever the store keeps it; null when there is none. Read only. */
  get(id: string): Promise<TaskRecord | null>;

  /** The tasks `filter` picks, in id order. Read only. */
  list(filter: ListFilter): Promise<TaskRecord[]>;

  /** One page of tasks as `filter` orders them; reads no more of a long history or a deep queue than the page needs. Read only. */
  page(filter: PageFilter): Promise<TaskRecord[]>;

  /** The counts of the overview, with `minutes` minutes of throughput; cheap however long the history or deep the queue. Read only. */
  stats(now: Date, minutes: number): Promise<StoreStats>;

  /** The final tasks that ended in each span of `window` before `now`, by executor (core/stats.ts's activityOf). Read only. */
  activity(now: Date, window: ActivityWindow): Promise<Activity>;

  /**
   * The journal's counters (core/counters.ts): what every transaction added up since the journal
   * was made, whatever was removed since. One read, however deep the queue or long the history.
   */
  counters(): Promise<Counters>;

  /**
   * The events (core/events.ts) after the one `since` names (null: from the oldest kept), oldest
   * first, at most `limit`: each write's events in the order written, and never one an earlier
   * call did not hand out yet behind one it did (a feed resumed from a cursor misses nothing kept).
   * A cursor this store does not make throws UsageError (code EBADCURSOR). Read only.
   */
  events(since: string | null, limit: number): Promise<TaskEvent[]>;

  /** Every worker slot, on every host. Read only. */
  workerSlots(): Promise<WorkerSlot[]>;

  /** The running tries and `host`'s worker slots, for the caller to judge. Read only. */
  survey(host: string): Promise<Survey>;

  /**
   * The journal's clock as this host sees it (core's JournalClock): the heartbeats a store stamps
   * (claims, reports) are on it, and so is the silence of other hosts' workers judged. Read only.
   */
  clock(): Promise<JournalClock>;

  /** A running try's control row: still held by `lease`? cancel requested? Read only. */
  tryControl(id: string, lease: string): Promise<TryControl>;

  /** Calls `onChange` after tasks changed; for live views and idle workers. Close the handle to stop. */
  watchChanges(onChange: ChangeListener): { close(): void };

  /** One transaction: applies `recovery` and queues the scheduled tasks whose time has come. */
  recover(now: Date, recovery: Recovery): Promise<RecoverResult>;

  /**
   * Ends the try `lease` with `outcome` if that lease still holds it; null when it does not (it
   * ended by itself). One statement. To stop a try by force, the caller ends it here first and
   * kills its worker after (worker/recovery.ts's forceTry): once the try is ended, the worker can
   * claim nothing more (an exchange that records a lost lease claims nothing), so the kill cannot
   * take down another task; and when the try ended by itself meanwhile, nothing is killed.
   */
  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord | null>;

  /** Cancels a task that is not running; marks a running one as asked to stop. Null when there is no such task. One transaction. */
  cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null>;

  /**
   * Queues a final task again (one more try at least). `queued: false` when the task is not final,
   * or when another task of its executor and key is not final (`heldBy`): a retry keeps `run --key`'s
   * promise of one such task at a time. Null when missing. One transaction.
   */
  retry(id: string, now: Date): Promise<RetryResult | null>;

  /** `cancel` of several tasks in one transaction (bulk control): one result per id, in order, as cancel's. */
  cancelMany(ids: readonly string[], now: Date): Promise<Array<{ task: TaskRecord; effect: CancelEffect } | null>>;

  /** `retry` of several tasks in one transaction (bulk control): one result per id, in order, as retry's. */
  retryMany(ids: readonly string[], now: Date): Promise<Array<RetryResult | null>>;

  /** Deletes tasks that are not running, all or none. One transaction. */
  remove(ids: readonly string[], now: Date): Promise<RemoveResult>;

  /**
   * Deletes final tasks that finished before `olderThan` (all final tasks when null); returns their ids.
   * With `onlyIfOldestBefore`, does nothing (cheaply) unless the oldest final task finished before it;
   * with `executor`, only that executor's tasks are removed.
   */
  removeFinished(olderThan: Date | null, now: Date, options?: RemoveFinishedOptions): Promise<string[]>;

  /**
   * One transaction: for each schedule, the slots core's dueSlots finds due after the last one
   * the journal recorded fired, each made a queued task, and the last slot fired recorded with
   * them. Concurrent callers serialise on the transaction: each slot makes one task. Returns the
   * tasks made, oldest slot first per schedule.
   */
  fireSchedules(request: FireRequest, now: Date): Promise<TaskRecord[]>;

  /** The last slot fired per schedule name (schedules never fired are absent). Read only. */
  scheduleStates(): Promise<Record<string, ScheduleState>>;

  /** Stops (`paused: true`) or restarts the queues of these executors; returns the paused ones after, sorted. One transaction. */
  pauseQueues(executors: readonly string[], paused: boolean): Promise<string[]>;

  /** The executors whose queue is paused, sorted. Read only. */
  pausedQueues(): Promise<string[]>;

  // The tick mutex, by name (core's tickMutexName: "cluster", or one per host). The file journal
  // serves one machine and keeps one mutex whatever the name.

  /** Who holds the tick mutex `mutex`, or null. Read only. */
  tickHolder(mutex: string): Promise<TickHolder | null>;

  /**
   * Takes the tick mutex `mutex` for `holder` if it is free or still held by `vacated` (a holder the
   * caller judged gone, with core's holdsTick); returns the holder that keeps it, or null when taken.
   */
  acquireTick(mutex: string, holder: TickHolder, vacated: TickHolder | null): Promise<TickHolder | null>;

  /** Gives the tick mutex `mutex` back if `holder` still has it. */
  releaseTick(mutex: string, holder: TickHolder): Promise<void>;

  /**
   * Writes `copy` as it is, in one transaction: tasks keep their ids (and history), later ids come
   * after theirs, and its paused queues and schedule states are added. When any of its ids is
   * already a task here, writes nothing and returns those ids.
   */
  importTasks(copy: JournalCopy): Promise<{ clashes: string[] }>;

  /** Where this journal keeps its tasks' logs and attachments; `home` is the bgtask home, for a journal that keeps them there. */
  taskOutput(home: string): TaskOutput;

  /** Releases what the store holds (connections, watchers); the store is not used after. */
  close(): Promise<void>;
}

/** Claims the next task for `worker` alone: an exchange that hands nothing over. */
export async function claimNext(
  store: JournalStore,
  worker: WorkerRef,
  now: Date,
  options: Pick<Exchange, "filter" | "recovery"> = {},
): Promise<TaskRecord | null> {
  return (await store.exchange(worker, now, { ends: [], giveBack: [], claim: 1, ...options })).next[0] ?? null;
}
