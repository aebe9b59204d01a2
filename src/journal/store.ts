// The one seam between bgtask and where tasks are kept. Commands and workers hold a JournalStore;
// only the files in journal/ know what is behind it. Operations are shaped like SQL statements
// (insert, claim the next runnable row, update one row, select with a filter) so a PostgreSQL
// store can implement each as one statement or one transaction.
import type { NewTask, TaskRecord, TaskStatus, WorkerRef } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import type { Liveness } from "../host/process-identity.ts";

export interface ListFilter {
  statuses?: readonly TaskStatus[];
  executor?: string;
  /** At most this many tasks, the newest; active tasks are always included. */
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
}

/** Tells a store which recorded processes are gone; injected so stores stay free of /proc. */
export type LivenessCheck = (worker: WorkerRef) => Liveness;

export interface ClaimOptions {
  liveness: LivenessCheck;
  /** A running task whose heartbeat is older than this is presumed lost even if its process looks alive. */
  heartbeatTimeoutMs: number;
  /** Ids not to claim (a tick runs each task at most once). */
  exclude?: ReadonlySet<string>;
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

  /** Recovers tasks of dead workers, then claims the oldest runnable task for `worker`, or null. */
  claimNext(slot: string, worker: WorkerRef, now: Date, options: ClaimOptions): Promise<TaskRecord | null>;

  /** Updates a running task; throws LeaseLostError when `lease` is no longer the task's. */
  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void>;

  /** Ends a try; throws LeaseLostError when `lease` is no longer the task's. */
  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord>;

  /** Records that the process in `slot` is the started worker. */
  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void>;

  /** Frees `slot` unless runnable work remains (then the worker carries on). */
  retireWorker(slot: string, now: Date, idleWindowMs: number): Promise<RetireResult>;

  get(id: string): Promise<TaskRecord | null>;
  list(filter: ListFilter): Promise<TaskRecord[]>;

  /** Calls `onChange` (soon, maybe coalesced) after tasks may have changed; for live views. */
  watchChanges(onChange: () => void): { close(): void };
}
