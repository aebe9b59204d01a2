// The types of `bgtask/client`: the public contract, which client.ts implements and index.ts
// exports. Apart from index.ts, so that the modules behind the client read them without importing
// the client itself.
import type { EventKind, TaskEvent } from "../core/events.ts";
import type { Schedule } from "../core/schedule.ts";
import type { RetryInput } from "../core/retry-policy.ts";
import type { TaskRecord as StoredTask, TaskStatus } from "../core/task.ts";
import type { Executors } from "../index.ts";

export type { EventKind, Executors, RetryInput, TaskEvent, TaskStatus };

/** A task as `bgtask status --json` prints it. */
export type TaskRecord = Omit<StoredTask, "lease">;

/** What `run` and `runEach` resolve with: with a `key`, whether the key found a task instead of creating one (and, with `replace`, replaced its context). */
export type RunRecord = TaskRecord & { deduplicated?: boolean; replaced?: boolean };

/** Where the project is; each is found as the CLI finds it when left out (flags' names, then BGTASK_* variables, then bgtask.config.json). */
export interface ClientOptions {
  /** The project root (default: the nearest folder above the working directory with bgtask.config.json, tasks/ or package.json). */
  root?: string;
  /** The tasks directory (default: <root>/tasks). */
  tasks?: string;
  /** The bgtask home: journal, logs, attachments (default: <root>/.bgtask). */
  home?: string;
  /** The journal location (default: the home). */
  journal?: string;
}

/** The context an executor's tasks take: as declared in `Executors`, else any JSON object. */
export type ContextOf<E extends string> = E extends keyof Executors ? Executors[E] : Record<string, unknown>;

type RunArgs<E extends string> = E extends keyof Executors
  ? [context: Executors[E], options?: RunOptions]
  : [context?: Record<string, unknown>, options?: RunOptions];

export interface RunOptions {
  /** Run after this long: "10m", or milliseconds. */
  delay?: string | number;
  /** Run at this time: a Date, or text like 2026-12-01T08:00 (local time unless it ends in Z or an offset). */
  at?: Date | string;
  /** Retry tiers for these tasks, over the executor's and the config's: "3x1s,5x5s", or as `retry` in defineTask. */
  retry?: string | RetryInput;
  /** False: only store the tasks; a tick or a worker already running takes them. Default true. */
  worker?: boolean;
  /** Claimed before tasks of lower priority within the claim order: a whole number, higher first (default 0, or the executor's). */
  priority?: number;
  /** No second task with this executor and key while one is not final: resolves with that one, `deduplicated: true`. */
  key?: string;
  /** With `key`: a task with the key that still waits (queued or scheduled) takes the new context and run time (`replaced: true`). */
  replace?: boolean;
  /** Ids of tasks that must succeed first; the task is cancelled if one fails or is cancelled. */
  after?: string | readonly string[];
  /** Pins the tasks to a host: only a worker on it (as its `hostname` says) claims them; they wait queued while it has none. */
  on?: string;
}

export interface ListOptions {
  status?: TaskStatus | readonly TaskStatus[];
  executor?: string;
  /** At most this many (default 50), active tasks first, then the most recently finished. */
  limit?: number;
}

export interface CancelOptions {
  /** False: only ask a running task to stop. Default true: resolve once it has stopped (forced after the grace period). */
  wait?: boolean;
}

export interface RetryOptions {
  /** False: only queue the tasks. Default true: make sure a worker runs them. */
  worker?: boolean;
}

export interface WaitOptions {
  /** Reject with a WaitTimeoutError (code "ETIMEOUT") after this long: "5m", or milliseconds. */
  timeout?: string | number;
}

export interface WatchOptions {
  /** Ends the watch early, as breaking out of the loop does. */
  signal?: AbortSignal;
}

export interface EventsOptions {
  /** Resume after the event with this cursor (one an event of this journal carried); left out: from the oldest event kept. */
  since?: string;
  /** Keep waiting for new events (never ending on an idle queue) until `signal`, a `break` or close() ends it. */
  follow?: boolean;
  /** Ends the feed, as breaking out of the loop does. */
  signal?: AbortSignal;
}

export interface TickOptions {
  /** The tick's budget: "55s" (the default), or milliseconds. */
  maxTime?: string | number;
  /** Stops the tick early: the running try is asked to stop. */
  signal?: AbortSignal;
}

export interface TickResult {
  /** The tick that held the mutex, so this one did nothing; null when this one ran. */
  heldBy: { pid: number; host: string; since: string } | null;
  /** In a cron-only project, waiting tasks no tick starts because their timeout outlasts the budget, and why. */
  notRun: Array<{ task: TaskRecord; reason: string }>;
}

/** Tasks by status; a status with none is left out. */
export type StatusCounts = Partial<Record<TaskStatus, number>>;

/** What `bgtask stats --json` prints. */
export interface Stats {
  byStatus: StatusCounts;
  /** Executor name → its tasks by status. */
  byExecutor: Record<string, StatusCounts>;
  /** The oldest queued task's creation, and how long ago that was; null when none is queued. */
  oldestQueued: { createdAt: string; ageMs: number } | null;
  /** The same per executor (one with none queued is left out). */
  oldestQueuedByExecutor: Record<string, { createdAt: string; ageMs: number }>;
  throughput: {
    minutes: number;
    /** Tasks that became final in each minute, oldest first; the last is the minute up to now. */
    perMinute: number[];
    /** Their mean per minute over the window. */
    average: number;
  };
  /** Workers whose process is alive, or on another host not known to be dead, or starting. */
  liveWorkers: number;
}

/** One worker slot, as `bgtask workers --json` prints it. */
export interface WorkerInfo {
  slot: string;
  /** Null for a slot written before slots named their host. */
  host: string | null;
  /** Null while the slot is reserved and its process has not registered yet. */
  pid: number | null;
  /** "starting": reserved, not registered; "alive" or "dead": checked on this host; "unknown": another host's. */
  state: "starting" | "alive" | "dead" | "unknown";
  reservedAt: string;
  /** The task its process runs (the oldest claimed, when it runs several at once), or null when it runs none. */
  task: { id: string; executor: string; progress: number; message: string | null } | null;
  /** How many tries its process runs at once now: its places in use. */
  running: number;
  /** The newest of its beat file's renewal and its task's heartbeat; null when neither is known. */
  lastHeartbeatAt: string | null;
}

/** A task's attachment, found by name. */
export interface AttachmentFile {
  name: string;
  size: number;
  /** A stream of its bytes; open it once. */
  open(): AttachmentStream;
}

/**
 * An attachment's bytes: a Node.js `stream.Readable`, typed by what it is for (`for await`, or
 * `stream.pipeline(file.open(), destination)`) so that these types need no @types/node in the
 * user's project.
 */
export interface AttachmentStream extends AsyncIterable<Uint8Array> {
  /** Stops reading and closes the file. */
  destroy(error?: Error): unknown;
}

/** A schedule of bgtask.config.json with what the journal says of it, as `bgtask schedules --json` prints it. */
export interface ScheduleInfo extends Schedule {
  /** The last slot fired and the task it made; null when none has fired yet. */
  last: { slot: string; taskId: string } | null;
  /** The next slot after now (ISO), or null when the expression has none. */
  nextRunAt: string | null;
}

export interface Client {
  /** The project as found: its root, tasks directory, home and journal. */
  readonly project: { root: string; tasksDir: string; home: string; journal: string };
  /** Stores a task (durably, before it resolves) and makes sure a worker will run it. */
  run<E extends string>(executor: E, ...args: RunArgs<E>): Promise<RunRecord>;
  /** One task per context, all validated before any is stored: all or nothing. */
  runEach<E extends string>(executor: E, contexts: readonly ContextOf<E>[], options?: RunOptions): Promise<RunRecord[]>;
  /** The task, or null when there is none with this id. */
  get(id: string): Promise<TaskRecord | null>;
  list(options?: ListOptions): Promise<TaskRecord[]>;
  /** Cancels at once a task that waits; asks a running one to stop, then forces it after the grace period. */
  cancel(id: string, options?: CancelOptions): Promise<TaskRecord>;
  cancel(ids: readonly string[], options?: CancelOptions): Promise<TaskRecord[]>;
  /** Runs a final task again as a new try; its tries keep counting. */
  retry(id: string, options?: RetryOptions): Promise<TaskRecord>;
  retry(ids: readonly string[], options?: RetryOptions): Promise<TaskRecord[]>;
  /** `retry --failed`: queues every failed task again (of `executor`, when given); resolves with the retried records. */
  retryFailed(options?: RetryOptions & { executor?: string }): Promise<TaskRecord[]>;
  /** `cancel --all-queued`: cancels every task waiting to start, queued or scheduled (of `executor`, when given). */
  cancelQueued(options?: CancelOptions & { executor?: string }): Promise<TaskRecord[]>;
  /** `bgtask pause`: no worker, tick or host claims these executors' tasks until resumed; running tries finish. Resolves with every paused queue. */
  pause(executors: string | readonly string[] | { all: true }): Promise<string[]>;
  /** `bgtask resume`: their tasks are claimed again (a worker is started for them). Resolves with the queues still paused. */
  resume(executors: string | readonly string[] | { all: true }): Promise<string[]>;
  /** The executors whose queue is paused. */
  pausedQueues(): Promise<string[]>;
  /** Deletes tasks with their logs and attachments, all or none (a running one must be cancelled first); resolves with the removed ids. */
  remove(ids: string | readonly string[]): Promise<string[]>;
  /** Resolves with the final record once the task is final, whatever its status. */
  wait(id: string, options?: WaitOptions): Promise<TaskRecord>;
  wait(ids: readonly string[], options?: WaitOptions): Promise<TaskRecord[]>;
  /** Each task's record now, then at every change, until all are final (every active task when no ids are given). */
  watch(ids?: string | readonly string[], options?: WatchOptions): AsyncIterableIterator<TaskRecord>;
  /**
   * `bgtask events --json` as an async iterator: each transition of every task (enqueued, started,
   * progress, succeeded, failed, retry-scheduled, recovered, …), oldest first, each with the cursor
   * to resume after it; with `follow`, new ones as they are written. A cursor this journal did not
   * make rejects with a UsageError (code "EBADCURSOR").
   */
  events(options?: EventsOptions): AsyncIterableIterator<TaskEvent>;
  /** One `bgtask tick`, in this process: recover, promote, prune, and run due work within the budget. */
  tick(options?: TickOptions): Promise<TickResult>;
  /** Counts by status and executor, the oldest queued task's age, the last minutes' throughput, live workers. */
  stats(): Promise<Stats>;
  /** Every worker slot on every host: its process, the task it runs, its last heartbeat. */
  workers(): Promise<WorkerInfo[]>;
  /** A task's attachment by name: its size and a stream of its bytes (a UsageError when the task or the name is unknown). */
  attachment(id: string, name: string): Promise<AttachmentFile>;
  /** The config's schedules, each with its last slot fired (and task) and its next run. */
  schedules(): Promise<ScheduleInfo[]>;
  /** Ends the client's waits and watches; calls after it are refused. */
  close(): Promise<void>;
}
