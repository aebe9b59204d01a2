// The task record: the one shape the journal stores, `--json` prints and every command reads.
// Pure types and helpers; no I/O.
export const TASK_STATUSES = ["queued", "scheduled", "running", "paused", "succeeded", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES: readonly TaskStatus[] = ["succeeded", "failed", "cancelled"];
export const ACTIVE_STATUSES: readonly TaskStatus[] = TASK_STATUSES.filter((s) => !FINAL_STATUSES.includes(s));

/** Where an executor's tries run: the worker's event loop, a worker thread, or a child process each (executor/definition.ts says which when). */
export const ISOLATIONS = ["inline", "thread", "process"] as const;
export type Isolation = (typeof ISOLATIONS)[number];

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export interface TaskError {
  message: string;
  stack: string | null;
  /** file:line inside the executor when the stack shows it. */
  where: string | null;
}

/** One try's outcome, kept so `status` can show every error, not only the last. */
export interface TryRecord {
  try: number;
  startedAt: string;
  finishedAt: string | null;
  status: TaskStatus;
  error: TaskError | null;
  worker: WorkerRef | null;
}

export interface WorkerRef {
  pid: number;
  host: string;
  /** Process start time in clock ticks since boot (/proc/<pid>/stat field 22): guards against PID reuse. */
  startTime: number | null;
  bootId: string | null;
}

/** A retry tier: `retries` more tries, each `intervalMs` after the last failure. */
export interface RetryTier {
  retries: number;
  intervalMs: number;
}

export type RetryPolicy = { kind: "tiers"; tiers: RetryTier[] } | { kind: "exponential"; retries: number; intervalMs: number; maxIntervalMs: number };

export interface Attachment {
  name: string;
  path: string;
  size: number;
}

/** Which schedule and slot made a task. */
export interface ScheduleRef {
  name: string;
  slot: string;
}

export interface TaskRecord {
  id: string;
  executor: string;
  status: TaskStatus;
  completed: boolean;
  context: Record<string, unknown>;
  progress: number;
  message: string | null;
  attributes: Record<string, unknown>;
  tries: number;
  maxTries: number;
  remainingTries: number;
  nextRunAt: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  result: unknown;
  error: TaskError | null;
  /** `ownProgress`: the task has reported its own progress, which the step index no longer overrides. */
  step: { index: number; name: string; count: number; initialized?: boolean; ownProgress?: boolean } | null;
  worker: WorkerRef | null;
  attachments: Attachment[];
  /** Tasks sharing a key never run at once (`serial` / `serialKey`); null runs freely. */
  serialKey: string | null;
  retry: RetryPolicy;
  timeoutMs: number | null;
  /** Resumable state of a task made of steps. */
  state: Record<string, unknown>;
  history: TryRecord[];
  /** Token of the current try: every worker write must carry it (fencing of a presumed-dead worker). */
  lease: string | null;
  heartbeatAt: string | null;
  /** Set by `bgtask cancel` on a running task; the worker aborts the try, or it is forced after the grace period. */
  cancelRequestedAt: string | null;
  /** When the current try times out (claim time + timeoutMs); null without a timeout. */
  timeoutAt: string | null;
  /** The schedule and slot that made this task; null (or absent, in journals written before schedules) for others. */
  schedule?: ScheduleRef | null;
  // The queue controls: stored only when set (see createTask), and absent in journals written
  // before them. Read them through the accessors below, which give each its default.
  /** Higher is claimed first within a claim rank (`run --priority`); 0 when absent. */
  priority?: number;
  /** `run --key`: no second task with this executor and key while this one is not final. */
  key?: string | null;
  /** `run --after`: the tasks this one runs after, as given. */
  after?: string[];
  /** Those of `after` that have not succeeded yet; claimed only once it is empty. */
  waitingFor?: string[];
  /** At most this many tasks of its executor run at once (`concurrency` of the definition or the config); null: no limit. */
  concurrency?: number | null;
  /** `run --on HOST`: only a worker on this host (as its `hostname` says) claims it; null: any host's. */
  pinnedHost?: string | null;
  /** The trace context of the code that enqueued it (src/telemetry/otel.ts); absent when none was propagated. */
  trace?: TraceCarrier;
}

/** A trace context as a propagator writes it (W3C's `traceparent` and `tracestate`, or another's fields). */
export type TraceCarrier = Record<string, string>;

export const priorityOf = (task: Pick<TaskRecord, "priority">): number => task.priority ?? 0;
export const keyOf = (task: Pick<TaskRecord, "key">): string | null => task.key ?? null;
export const waitingForOf = (task: Pick<TaskRecord, "waitingFor">): readonly string[] => task.waitingFor ?? [];
export const concurrencyOf = (task: Pick<TaskRecord, "concurrency">): number | null => task.concurrency ?? null;
export const pinnedHostOf = (task: Pick<TaskRecord, "pinnedHost">): string | null => task.pinnedHost ?? null;

/** Whether a worker on `host` may claim `task`: it is pinned to that host or to none. */
export function isClaimableOn(task: Pick<TaskRecord, "pinnedHost">, host: string): boolean {
  const pinned = pinnedHostOf(task);
  return pinned === null || pinned === host;
}

/** A host name as `run --on` takes it: dot-separated labels of letters, digits, `-` and `_` (what `hostname` prints), at most 253 characters. */
export const HOST_NAME_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/** What a caller supplies to create a task; everything else starts from defaults. */
export interface NewTask {
  executor: string;
  context: Record<string, unknown>;
  serialKey: string | null;
  retry: RetryPolicy;
  timeoutMs: number | null;
  /** When set, the task starts `scheduled` until then. */
  runAt: Date | null;
  /** Set when a schedule's slot makes the task. */
  schedule?: ScheduleRef;
  // Absent: the defaults of a task made before issue 13.
  priority?: number;
  key?: string | null;
  /** With `key`: a task with this key that still waits takes this one's context and run time instead. */
  replace?: boolean;
  /** Ids of tasks that exist; the store refuses the enqueue when one does not. */
  after?: readonly string[];
  concurrency?: number | null;
  pinnedHost?: string | null;
  trace?: TraceCarrier;
}

export const TASK_ID_PATTERN = /^[1-9][0-9]{0,15}$/;

export function isTaskId(value: string): boolean {
  return TASK_ID_PATTERN.test(value);
}

export function createTask(id: string, input: NewTask, now: Date, maxTries: number): TaskRecord {
  const scheduled = input.runAt !== null && input.runAt.getTime() > now.getTime();
  return {
    id,
    executor: input.executor,
    status: scheduled ? "scheduled" : "queued",
    completed: false,
    context: input.context,
    progress: 0,
    message: null,
    attributes: {},
    tries: 0,
    maxTries,
    remainingTries: maxTries,
    nextRunAt: scheduled ? input.runAt!.toISOString() : null,
    createdAt: now.toISOString(),
    startedAt: null,
    finishedAt: null,
    result: null,
    error: null,
    step: null,
    worker: null,
    attachments: [],
    serialKey: input.serialKey,
    retry: input.retry,
    timeoutMs: input.timeoutMs,
    state: {},
    history: [],
    lease: null,
    heartbeatAt: null,
    cancelRequestedAt: null,
    timeoutAt: null,
    schedule: input.schedule ?? null,
    // Stored only when set: a plain task's record stays as it was before them, as an older bgtask
    // reads it, and a deep queue's lines no longer.
    ...(input.priority ? { priority: input.priority } : {}),
    ...(input.key !== undefined && input.key !== null ? { key: input.key } : {}),
    ...(input.after !== undefined && input.after.length > 0 ? { after: [...input.after] } : {}),
    ...(input.concurrency !== undefined && input.concurrency !== null ? { concurrency: input.concurrency } : {}),
    ...(input.pinnedHost !== undefined && input.pinnedHost !== null ? { pinnedHost: input.pinnedHost } : {}),
    ...(input.trace !== undefined ? { trace: input.trace } : {}),
  };
}

/** When a final task finished (ms since the epoch): what retention and `remove --finished --older-than` go by. */
export function finishedTime(task: Pick<TaskRecord, "finishedAt" | "createdAt">): number {
  return Date.parse(task.finishedAt ?? task.createdAt);
}

/** The record as `--json` prints it: the lease token stays private to workers. */
export function publicRecord(task: TaskRecord): Omit<TaskRecord, "lease"> {
  const { lease: _lease, ...rest } = task;
  return {
    ...rest,
    schedule: task.schedule ?? null,
    priority: priorityOf(task),
    key: keyOf(task),
    after: task.after ?? [],
    waitingFor: [...waitingForOf(task)],
    concurrency: concurrencyOf(task),
    pinnedHost: pinnedHostOf(task),
  };
}
