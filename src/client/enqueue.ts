// Storing new tasks: the executor's settings (from the settings cache, else its module), which
// retry policy wins (the caller's, the executor's, the config's, none), the serial key, the
// durable insert, and the worker to start when one is needed. Callers have checked their inputs.
import { existsSync } from "node:fs";
import { queueSettings, taskDefaults } from "../config/task-defaults.ts";
import { mergeContext, parseContextJson, type TaskContext } from "../core/context.ts";
import { HOST_NAME_PATTERN, type NewTask, type RetryPolicy, type TaskRecord } from "../core/task.ts";
import type { KeyOutcome } from "../core/transitions.ts";
import { resolveExecutor, type ExecutorFile } from "../executor/discover.ts";
import { executorSettings } from "../executor/settings-cache.ts";
import { ensurePrivateDir } from "../host/home.ts";
import { UsageError } from "../errors.ts";
import { slotRequest } from "../worker/recovery.ts";
import { checkTaskId, getTask, type Session } from "./session.ts";

export interface EnqueuePlan {
  /** When a task stored at `now` is due; null: at once. */
  runAt(now: Date): Date | null;
  /** Overrides the executor's and the config's retry policy; null leaves them. */
  retry: RetryPolicy | null;
  /** False: only store the tasks, for a tick or a running worker to take. */
  worker: boolean;
  /** Overrides the config's and the executor's priority; null leaves them. */
  priority: number | null;
  /** A dedupe key for every task (`run --key`), and whether it replaces a waiting task's context and run time. */
  key: string | null;
  replace: boolean;
  /** Ids of tasks that must succeed first (`run --after`). */
  after: readonly string[];
  /** Only a worker on this host claims the tasks (`run --on`); null: any host's. */
  pinnedHost: string | null;
}

export interface Enqueued {
  /** Per context: the task stored, or the one its key found. */
  tasks: TaskRecord[];
  /** Per context: "created", or what its key did. */
  outcomes: KeyOutcome[];
  /** When the tasks were stored, and when they are due (null: at once). */
  storedAt: Date;
  dueAt: Date | null;
}

/** The queue options of `run` as given, from flags (text) or from JavaScript callers. */
export interface QueueOptions {
  priority?: string | number;
  key?: string;
  replace?: boolean;
  /** Ids, as a list or comma-separated. */
  after?: string | readonly string[];
  /** A host name, as `hostname` prints it on that host. */
  on?: string;
}

const MAX_KEY_LENGTH = 256;

/** Checks the queue options; `named` words an option as its caller spells it (`--priority` or `priority`). */
export function queuePlan(
  options: QueueOptions,
  named: (option: string) => string,
): Pick<EnqueuePlan, "priority" | "key" | "replace" | "after" | "pinnedHost"> {
  let priority: number | null = null;
  if (options.priority !== undefined) {
    const value = options.priority;
    priority = typeof value === "number" ? value : /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(priority) || priority < 0) {
      throw new UsageError(`${named("priority")} ${String(value)} is not a whole number of 0 or more (higher runs first; the default is 0)`);
    }
  }
  const { key } = options;
  if (key !== undefined && (typeof key !== "string" || key === "" || key.length > MAX_KEY_LENGTH)) {
    throw new UsageError(`${named("key")} must be text of 1 to ${MAX_KEY_LENGTH} characters, like nightly-report`);
  }
  if (options.replace && key === undefined)
    throw new UsageError(`${named("replace")} goes with ${named("key")}: it replaces the waiting task that has the key`);
  const ids = options.after === undefined ? [] : typeof options.after === "string" ? options.after.split(",").map((id) => id.trim()) : options.after;
  if (options.after !== undefined && ids.length === 0) throw new UsageError(`${named("after")} needs the ids of tasks, like 12,14`);
  const { on } = options;
  if (on !== undefined && (typeof on !== "string" || !HOST_NAME_PATTERN.test(on))) {
    throw new UsageError(
      `${named("on")} ${JSON.stringify(on)} is not a host name: letters, digits, - and _ in dot-separated parts, as \`hostname\` prints it on that host, like build-01`,
    );
  }
  return { priority, key: key ?? null, replace: options.replace === true, after: [...new Set(ids.map(checkTaskId))], pinnedHost: on ?? null };
}

export async function enqueue(session: Session, executor: ExecutorFile, contexts: readonly TaskContext[], plan: EnqueuePlan): Promise<Enqueued> {
  const { config, store } = session;
  // Looked up first, so that a missing one is refused without the journal's lock; the store
  // checks them again in its transaction (one may be removed in between).
  for (const id of plan.after) await getTask(session, id);
  // Loading the executor may write its settings cache and jiti's: a home that exists is checked
  // first (a symbolic link is refused before anything goes through it).
  const homeExists = existsSync(config.home);
  if (homeExists) ensurePrivateDir(config.home);
  const settings = await executorSettings(executor, homeExists ? config.home : null);
  const defaults = taskDefaults(settings, config);
  const retry = plan.retry ?? defaults.retry;
  const queue = queueSettings(settings, config.executors[executor.name]);
  // Which slots this host has and which of them are dead: gathered before the transaction, which takes facts only.
  const workers = plan.worker && config.worker ? await slotRequest(store, config) : null;
  // A task is created when it is stored, not when the call began: loading the executor's
  // settings may have taken a module import, and a delay counts from here.
  const storedAt = new Date();
  const dueAt = plan.runAt(storedAt);
  const inputs: NewTask[] = contexts.map((context) => ({
    executor: executor.name,
    context,
    serialKey: settings.serialKeyOf(context),
    retry,
    timeoutMs: defaults.timeoutMs,
    runAt: dueAt,
    priority: plan.priority ?? queue.priority,
    key: plan.key,
    replace: plan.replace,
    after: plan.after,
    concurrency: queue.concurrency,
    pinnedHost: plan.pinnedHost,
  }));
  const { tasks, outcomes, workerSlot } = await store.enqueue(inputs, storedAt, workers);
  if (workerSlot) {
    // Imported only when a worker must start: `run` with a worker already running skips it.
    const { spawnWorker } = await import("../worker/spawn.ts");
    spawnWorker(config, workerSlot);
  }
  return { tasks, outcomes, storedAt, dueAt };
}

/**
 * What `run --json` and the client add to a record when a key was given: `deduplicated` (no task
 * was created: the record is the one the key found) and, with replace, `replaced` (that task took
 * the new context and run time).
 */
export function keyFields(plan: Pick<EnqueuePlan, "key" | "replace">, outcome: KeyOutcome): { deduplicated?: boolean; replaced?: boolean } {
  if (plan.key === null) return {};
  return plan.replace ? { deduplicated: outcome !== "created", replaced: outcome === "replaced" } : { deduplicated: outcome !== "created" };
}

/** The note on stderr for each task a key found instead of creating one, once per task. */
export function keyNotes(enqueued: Pick<Enqueued, "tasks" | "outcomes">, key: string): string[] {
  const notes = new Map<string, string>();
  enqueued.outcomes.forEach((outcome, i) => {
    const task = enqueued.tasks[i]!;
    if (outcome === "created" || notes.has(task.id)) return;
    const which = `task ${task.id} (${task.executor}, key ${JSON.stringify(key)})`;
    notes.set(
      task.id,
      outcome === "replaced"
        ? `${which} was still waiting: it takes the new context and run time; no task was created`
        : outcome === "running"
          ? `${which} has started (${task.status}), so it was not replaced; no task was created`
          : `${which} is not final yet (${task.status}), so no task was created`,
    );
  });
  return [...notes.values()];
}

/** One task of the executor `name`, due at once, with its context as JSON text checked as `run --ctx` checks it: the dashboard's run form. */
export async function enqueueJsonContext(session: Session, name: string, text: string): Promise<TaskRecord> {
  const file = resolveExecutor(session.config.tasksDir, name);
  const context = mergeContext(parseContextJson(text, "the context"), {}, "the task");
  const { tasks } = await enqueue(session, file, [context], {
    runAt: () => null,
    retry: null,
    worker: true,
    priority: null,
    key: null,
    replace: false,
    after: [],
    pinnedHost: null,
  });
  return tasks[0]!;
}
