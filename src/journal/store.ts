// The one seam between bgtask and where tasks are kept. Commands and workers hold a JournalStore;
// only the files in journal/ know what is behind it. Operations are shaped like SQL statements
// (insert, claim the next runnable row, update one row, select with a filter) so a PostgreSQL
// store can implement each as one statement or one transaction.
import type { NewTask, TaskRecord, TaskStatus, WorkerRef } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import type { Liveness, Termination } from "../host/process-identity.ts";

export interface ListFilter {
  statuses?: readonly TaskStatus[];
  executor?: string;
  /** At most this many tasks: active ones first (running and paused, then next in line), then the newest finished. */
  limit?: number;
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

export interface EnqueueResult {
  tasks: TaskRecord[];
  /** A worker slot reserved for the caller to start a worker in, or null when enough run. */
  workerSlot: string | null;
}

export interface EnqueueOptions {
  /** Reserve a worker slot when fewer than this many workers are alive and there is work for one more. */
  maxWorkers: number | null;
  liveness: LivenessCheck;
  /** Scheduled tasks due within this count as work for a worker (it waits for them, sleeping). */
  scheduleWindowMs: number;
}

/** Tells a store which recorded processes are gone; injected so stores stay free of /proc. */
export type LivenessCheck = (worker: WorkerRef) => Liveness;

/** Kills a recorded worker process (and its group) after checking its identity; injected like liveness. */
export type TerminateProcess = (worker: WorkerRef) => Termination;

export interface RecoverOptions {
  liveness: LivenessCheck;
  /** A running task whose heartbeat is older than this is presumed lost even if its process looks alive. */
  heartbeatTimeoutMs: number;
  /**
   * When a worker last showed it is alive outside the journal (ms since the epoch), or null: a
   * heartbeat that could not get the journal lock in time is not silence.
   */
  lastBeat?: (worker: WorkerRef) => number | null;
  /**
   * The task a worker last started, as it says outside the journal (its beat file): "" for none,
   * null when that cannot be told. A dead or silent worker's other first tries never started (a
   * local queue): they are given back, with no try counted.
   */
  startedTask?: (worker: WorkerRef) => string | null;
  /** A try still running this long (plus a margin) after its cancel or timeout is forced. */
  graceMs: number;
  /** Forces overdue tries; without it they are left to their own worker's supervisor. */
  terminate?: TerminateProcess;
}

export interface ClaimOptions extends RecoverOptions {
  /** Only tasks this accepts are claimed (a tick skips those whose timeout outlasts its budget). */
  accept?: (task: TaskRecord) => boolean;
  /**
   * A claim recovers dead workers' tries (and prunes their slots) first, looking at the whole
   * active set; with this, at most once per this many ms per store, and again whenever nothing
   * is left to claim. Without it, on every claim.
   */
  recoverEveryMs?: number;
}

export interface RecoverResult {
  /** Tries of dead or silent workers that were ended. */
  recovered: string[];
  /** Tries killed because they outlived their cancel or timeout. */
  forced: string[];
  /** Scheduled tasks whose time had come, now queued. */
  promoted: string[];
}

/** What `cancel` did: ended a task that was not running, asked a running one to stop, or found it final. */
export type CancelEffect = "cancelled" | "requested" | "final";

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

/** The process that holds the tick mutex. */
export interface TickHolder {
  process: WorkerRef;
  since: string;
  /** Another host cannot check the process: past this time its hold is void. */
  expiresAt: string;
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
  /** Claim up to this many: the next task in claim order, then the ones after it while each is a fresh plain task (isFreshPlain). */
  claim: number;
}

export interface ExchangeResult {
  /** Per end: the settled task, or null when its lease was no longer the task's. */
  settled: Array<TaskRecord | null>;
  /** What was claimed: nothing when any lease was lost, since a worker presumed dead must stop. */
  next: TaskRecord[];
}

export interface RetireResult {
  retired: boolean;
  /** When not retired because a scheduled task is due soon: when it is due. */
  nextDueAt: string | null;
}

export interface JournalStore {
  /** Where the journal lives, for messages. */
  readonly location: string;

  /** Inserts tasks durably (on disk before it resolves); all or nothing. */
  enqueue(tasks: readonly NewTask[], now: Date, options: EnqueueOptions): Promise<EnqueueResult>;

  /** Runs `recover`, then claims the oldest runnable task for `worker`, or null. */
  claimNext(slot: string, worker: WorkerRef, now: Date, options: ClaimOptions): Promise<TaskRecord | null>;

  /** Updates a running task; throws LeaseLostError when `lease` is no longer the task's. */
  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void>;

  /** Ends a try; throws LeaseLostError when `lease` is no longer the task's. */
  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord>;

  /** Records ended tries, gives back unstarted ones and claims the next tasks for `worker`, in one transaction. */
  exchange(worker: WorkerRef, now: Date, options: ClaimOptions, exchange: Exchange): Promise<ExchangeResult>;

  /** Records that the process in `slot` is the started worker. */
  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void>;

  /** Frees `slot` unless work is runnable, or a scheduled task is due within `scheduleWindowMs` (the worker sleeps for it). */
  retireWorker(slot: string, now: Date, scheduleWindowMs: number): Promise<RetireResult>;

  get(id: string): Promise<TaskRecord | null>;
  list(filter: ListFilter): Promise<TaskRecord[]>;

  /** Calls `onChange` (soon, maybe coalesced) after tasks may have changed; for live views. */
  watchChanges(onChange: () => void): { close(): void };

  /** A running try's control row: still held by `lease`? cancel requested? Read only. */
  poll(id: string, lease: string): Promise<TryControl>;

  /** Ends tries of dead or silent workers, forces overdue tries (when given `terminate`), queues due scheduled tasks. */
  recover(now: Date, options: RecoverOptions): Promise<RecoverResult>;

  /**
   * Ends the try `lease` with `outcome` after stopping its worker with `terminate`; null when the
   * try is no longer running under that lease (it ended by itself) or its worker cannot be checked.
   */
  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date, terminate: TerminateProcess): Promise<TaskRecord | null>;

  /** Cancels a task that is not running; marks a running one as asked to stop. Null when there is no such task. */
  cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null>;

  /** Queues a final task again (one more try at least). `queued: false` when the task is not final. Null when missing. */
  retry(id: string, now: Date): Promise<{ task: TaskRecord; queued: boolean } | null>;

  /** Deletes tasks that are not running, all or none. */
  remove(ids: readonly string[], now: Date): Promise<RemoveResult>;

  /**
   * Deletes final tasks that finished before `olderThan` (all final tasks when null); returns their ids.
   * With `onlyIfOldestBefore`, does nothing (cheaply) unless the oldest final task finished before it.
   */
  removeFinished(olderThan: Date | null, now: Date, options?: { onlyIfOldestBefore?: Date }): Promise<string[]>;

  /** Reserves a worker slot when there is work and room for one more worker, first freeing `releasing`. */
  reserveWorker(now: Date, options: EnqueueOptions & { releasing?: string }): Promise<string | null>;

  /** Frees a worker's slot unconditionally (it is exiting). */
  releaseWorker(slot: string): Promise<void>;

  /** Takes the tick mutex for `holder` unless a live process holds it; returns the holder that keeps it, or null when taken. */
  acquireTick(holder: TickHolder, liveness: LivenessCheck, now: Date): Promise<TickHolder | null>;

  /** Gives the tick mutex back if `holder` still has it. */
  releaseTick(holder: TickHolder): Promise<void>;
}
