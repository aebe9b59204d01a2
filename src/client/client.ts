// The client behind `bgtask/client`: checks what JavaScript callers pass (they have no flags
// parser in front), then calls the same operations as the CLI commands.
import { loadConfig, type Config } from "../config/config.ts";
import { mergeContext, validateContext, type TaskContext } from "../core/context.ts";
import { parseDurationOption } from "../core/duration.ts";
import { publicRecord, type TaskRecord as StoredTask } from "../core/task.ts";
import { BgtaskError, UsageError } from "../errors.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { cancelQueued, cancelTasks, removeTasks, retryFailed, retryTasks } from "./control.ts";
import { pausedQueues, setQueuesPaused, type QueueTarget } from "./queues.ts";
import { enqueue, keyFields } from "./enqueue.ts";
import { eventFeed } from "./events.ts";
import type * as api from "./types.ts";
import { checkStatuses, DEFAULT_LIST_LIMIT, listTasks } from "./query.ts";
import { runPlan } from "./run-plan.ts";
import { listSchedules } from "./schedules.ts";
import { checkTaskId, openStore, type Session } from "./session.ts";
import { DEFAULT_TICK_BUDGET_MS, tick } from "./tick.ts";
import { waitForTasks, watchTasks } from "./wait.ts";
import { readAttachment } from "./attachment.ts";
import { readStats } from "./stats.ts";
import { listWorkers } from "./workers.ts";

/** JSON in, JSON out: what the journal stores is what the executor gets, checked as the CLI checks it. */
function contextOption(value: unknown, source: string): TaskContext {
  let json: string | undefined;
  try {
    json = JSON.stringify(value ?? {});
  } catch (error) {
    throw new UsageError(`${source} cannot be stored as JSON: ${(error as Error).message}`);
  }
  const parsed: unknown = json === undefined ? undefined : JSON.parse(json);
  return mergeContext(validateContext(parsed, source), {}, source);
}

const asIds = (ids: string | readonly string[]): readonly string[] => (typeof ids === "string" ? [ids] : ids);

function queueTarget(executors: string | readonly string[] | { all: true }): QueueTarget {
  if (typeof executors === "string") return { executors: [executors] };
  if (Array.isArray(executors)) return { executors: executors.map(String) };
  if ((executors as { all?: unknown }).all === true) return { all: true };
  throw new UsageError("give executor names, or { all: true }");
}
const records = (tasks: readonly StoredTask[]) => tasks.map(publicRecord);

export class LocalClient implements api.Client {
  readonly project: api.Client["project"];
  private readonly config: Config;
  private session: Promise<Session> | null = null;
  /** Ended by close(): every wait and watch in progress. */
  private readonly closing = new AbortController();

  constructor(options: api.ClientOptions) {
    this.config = loadConfig(options);
    const { root, tasksDir, home, journal } = this.config;
    this.project = { root, tasksDir, home, journal };
  }

  private open(): Promise<Session> {
    if (this.closing.signal.aborted) return Promise.reject(new BgtaskError("ECLOSED", "this bgtask client was closed; create another with createClient()"));
    this.session ??= openStore(this.config).then((store) => ({ config: this.config, store }));
    return this.session;
  }

  async run(executor: string, context?: Record<string, unknown>, options: api.RunOptions = {}): Promise<api.RunRecord> {
    const [task] = await this.store(executor, [contextOption(context, "the context")], options);
    return task!;
  }

  async runEach(executor: string, contexts: readonly Record<string, unknown>[], options: api.RunOptions = {}): Promise<api.RunRecord[]> {
    if (!Array.isArray(contexts) || contexts.length === 0) throw new UsageError("runEach needs an array of one context or more");
    return this.store(
      executor,
      contexts.map((context, i) => contextOption(context, `context ${i + 1}`)),
      options,
    );
  }

  private async store(executor: string, contexts: TaskContext[], options: api.RunOptions): Promise<api.RunRecord[]> {
    const session = await this.open();
    const file = resolveExecutor(this.config.tasksDir, String(executor));
    const plan = runPlan(options, "field");
    const enqueued = await enqueue(session, file, contexts, plan);
    return enqueued.tasks.map((task, i) => ({ ...publicRecord(task), ...keyFields(plan, enqueued.outcomes[i]!) }));
  }

  async get(id: string): Promise<api.TaskRecord | null> {
    const session = await this.open();
    const task = await session.store.get(checkTaskId(id));
    return task && publicRecord(task);
  }

  async list(options: api.ListOptions = {}): Promise<api.TaskRecord[]> {
    const statuses = options.status === undefined ? undefined : checkStatuses(typeof options.status === "string" ? [options.status] : options.status, "status");
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`limit ${String(limit)} is not a positive whole number`);
    const session = await this.open();
    return records((await listTasks(session, { statuses, executor: options.executor, limit })).tasks);
  }

  cancel(id: string, options?: api.CancelOptions): Promise<api.TaskRecord>;
  cancel(ids: readonly string[], options?: api.CancelOptions): Promise<api.TaskRecord[]>;
  async cancel(ids: string | readonly string[], options: api.CancelOptions = {}): Promise<api.TaskRecord | api.TaskRecord[]> {
    const cancelled = records(await cancelTasks(await this.open(), asIds(ids), { wait: options.wait }));
    return typeof ids === "string" ? cancelled[0]! : cancelled;
  }

  retry(id: string, options?: api.RetryOptions): Promise<api.TaskRecord>;
  retry(ids: readonly string[], options?: api.RetryOptions): Promise<api.TaskRecord[]>;
  async retry(ids: string | readonly string[], options: api.RetryOptions = {}): Promise<api.TaskRecord | api.TaskRecord[]> {
    const retried = records(await retryTasks(await this.open(), asIds(ids), { worker: options.worker }));
    return typeof ids === "string" ? retried[0]! : retried;
  }

  async retryFailed(options: api.RetryOptions & { executor?: string } = {}): Promise<api.TaskRecord[]> {
    return records(await retryFailed(await this.open(), { executor: options.executor, worker: options.worker }));
  }

  async cancelQueued(options: api.CancelOptions & { executor?: string } = {}): Promise<api.TaskRecord[]> {
    return records(await cancelQueued(await this.open(), { executor: options.executor, wait: options.wait }));
  }

  async pause(executors: string | readonly string[] | { all: true }): Promise<string[]> {
    return (await setQueuesPaused(await this.open(), queueTarget(executors), true, (option) => option)).paused;
  }

  async resume(executors: string | readonly string[] | { all: true }): Promise<string[]> {
    return (await setQueuesPaused(await this.open(), queueTarget(executors), false, (option) => option)).paused;
  }

  async pausedQueues(): Promise<string[]> {
    return pausedQueues(await this.open());
  }

  async remove(ids: string | readonly string[]): Promise<string[]> {
    return removeTasks(await this.open(), asIds(ids));
  }

  wait(id: string, options?: api.WaitOptions): Promise<api.TaskRecord>;
  wait(ids: readonly string[], options?: api.WaitOptions): Promise<api.TaskRecord[]>;
  async wait(ids: string | readonly string[], options: api.WaitOptions = {}): Promise<api.TaskRecord | api.TaskRecord[]> {
    const timeoutMs = options.timeout === undefined ? undefined : parseDurationOption("timeout", options.timeout);
    const session = await this.open();
    const done = await waitForTasks(session, asIds(ids).map(checkTaskId), { timeoutMs, signal: this.closing.signal });
    if (done === null) throw new BgtaskError("ECLOSED", "the wait ended because its bgtask client was closed");
    return typeof ids === "string" ? publicRecord(done[0]!) : records(done);
  }

  async *watch(ids?: string | readonly string[], options: api.WatchOptions = {}): AsyncIterableIterator<api.TaskRecord> {
    const checked = ids === undefined ? null : asIds(ids).map(checkTaskId);
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    for await (const task of watchTasks(await this.open(), checked, signal)) yield publicRecord(task);
  }

  async *events(options: api.EventsOptions = {}): AsyncIterableIterator<api.TaskEvent> {
    const { since, follow } = options;
    if (since !== undefined && typeof since !== "string")
      throw new UsageError(`since is an event's cursor, a string, not a ${typeof since}`, { code: "EBADCURSOR" });
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;
    yield* eventFeed(await this.open(), { since, follow: follow === true, signal });
  }

  async tick(options: api.TickOptions = {}): Promise<api.TickResult> {
    const budgetMs = options.maxTime === undefined ? DEFAULT_TICK_BUDGET_MS : parseDurationOption("maxTime", options.maxTime);
    if (budgetMs < 1) throw new UsageError(`maxTime ${String(options.maxTime)} is too short for a tick`);
    const result = await tick(await this.open(), budgetMs, { signal: options.signal });
    return { heldBy: result.heldBy, notRun: result.notRun.map(({ task, reason }) => ({ task: publicRecord(task), reason })) };
  }

  async stats(): Promise<api.Stats> {
    return readStats(await this.open());
  }

  async workers(): Promise<api.WorkerInfo[]> {
    return listWorkers(await this.open());
  }

  async attachment(id: string, name: string): Promise<api.AttachmentFile> {
    return readAttachment(await this.open(), checkTaskId(id), name);
  }

  async schedules(): Promise<api.ScheduleInfo[]> {
    return listSchedules(await this.open());
  }

  async close(): Promise<void> {
    this.closing.abort();
    const session = this.session;
    this.session = null;
    if (session) await (await session).store.close();
  }
}
