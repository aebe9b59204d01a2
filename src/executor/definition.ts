// What an executor module exports: a definition made with defineTask. The brand lets the loader
// tell a definition from any other default export, even across copies of the bgtask package.
import type { RetryInput } from "../core/retry-policy.ts";
import type { Isolation, TaskRecord } from "../core/task.ts";

const BRAND = Symbol.for("bgtask.definition");

/** Handed to `run` and to steps: the task's identity, context and the ways to report on it. */
export interface TaskApi<C = Record<string, unknown>> {
  readonly id: string;
  /** This try's number: 1 for the first. */
  readonly tries: number;
  readonly context: C;
  /** Aborted on cancel, timeout and worker shutdown. */
  readonly signal: AbortSignal;
  /** Resumable state of a task made of steps; saved at every step boundary and pause. */
  state: Record<string, unknown>;
  /** Percent 0–100 (clamped) and an optional message. Reports are coalesced; the last one always lands. */
  progress(percent: number, message?: string): Promise<void>;
  /** Status attributes, merged into the record. Must be JSON-serialisable. */
  set(attributes: Record<string, unknown>): Promise<void>;
  /** A line for `bgtask logs`. */
  log(...values: unknown[]): void;
  /** Stores a file with the task: `data` is the content, or `{ path }` of a file to copy. */
  attach(name: string, data: string | Uint8Array | { path: string }): Promise<void>;
  /** A status message for the definition's `translate`. */
  send(message: unknown): Promise<void>;
}

export interface RunResult {
  message?: string;
  result?: unknown;
}

export interface StepContext {
  /** Epoch milliseconds by which the step should return "pause" (or finish). */
  deadline: number;
}

export interface StepDefinition<C = Record<string, unknown>> {
  name: string;
  init?(task: TaskApi<C>): void | Promise<void>;
  run(task: TaskApi<C>, context: StepContext): "done" | "pause" | void | Promise<"done" | "pause" | void>;
  onError?(error: Error, task: TaskApi<C>): "retry" | unknown;
}

export interface TaskDefinition<C = Record<string, unknown>> {
  /** One task of this executor at a time; the others wait queued, in order. */
  serial?: boolean;
  /** One task at a time per key. */
  serialKey?: (context: C) => string;
  retry?: RetryInput;
  /** Claimed before tasks of lower priority (a whole number, default 0); `run --priority` overrides it. */
  priority?: number;
  /** At most this many tasks of this executor run at once, across all workers (`serial: true` is 1). */
  concurrency?: number;
  /**
   * Where a try runs: "inline" (default), in the worker's event loop beside its other tries, for
   * work that waits (network, disk, databases); "thread", in a worker thread of its own (≈8 MB),
   * for CPU-bound work, or code that may not stop or calls process.exit: it no longer holds up the
   * other tries, and a try that will not stop is stopped with its thread; "process", in a child
   * process of its own (40–90 MB), for native code that may crash the process or code that leaks.
   */
  isolation?: Isolation;
  /** "10m": then the try is cancelled and counts as failed. */
  timeout?: string | number;
  run?: (task: TaskApi<C>) => RunResult | void | Promise<RunResult | void>;
  steps?: StepDefinition<C>[];
  /** How long a step may run before its deadline asks it to pause. */
  slice?: string | number;
  /** Turns an exception into the status message. */
  onError?: (error: Error, task: TaskApi<C>) => string | void | Promise<string | void>;
  /** Turns a message sent with `task.send` into attributes on `status`. */
  translate?: (message: unknown, status: Record<string, unknown>) => void;
  /**
   * Runs in the worker once the task's final status (succeeded, failed, cancelled) is recorded,
   * with the record as `status --json` prints it. What it throws is logged, never changes the task.
   */
  onFinish?: (task: FinishedTask) => void | Promise<void>;
}

/** The final task record handed to `onFinish` and to the config's hook commands. */
export type FinishedTask = Omit<TaskRecord, "lease">;

// biome-ignore lint/suspicious/noExplicitAny: a definition of any context type; `unknown` would refuse every typed one
export type BrandedDefinition = TaskDefinition<any> & { readonly [BRAND]: true };

export function defineTask<C = Record<string, unknown>>(definition: TaskDefinition<C>): TaskDefinition<C> {
  return Object.freeze({ ...definition, [BRAND]: true as const });
}

export function isDefinition(value: unknown): value is BrandedDefinition {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}
