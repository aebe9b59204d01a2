// Storing new tasks: the executor's settings (from the settings cache, else its module), which
// retry policy wins (the caller's, the executor's, the config's, none), the serial key, the
// durable insert, and the worker to start when one is needed. Callers have checked their inputs.
import { existsSync } from "node:fs";
import { taskDefaults } from "../config/task-defaults.ts";
import { mergeContext, parseContextJson, type TaskContext } from "../core/context.ts";
import type { NewTask, RetryPolicy, TaskRecord } from "../core/task.ts";
import { resolveExecutor, type ExecutorFile } from "../executor/discover.ts";
import { executorSettings } from "../executor/settings-cache.ts";
import { ensurePrivateDir } from "../host/home.ts";
import { slotRequest } from "../worker/recovery.ts";
import type { Session } from "./session.ts";

export interface EnqueuePlan {
  /** When a task stored at `now` is due; null: at once. */
  runAt(now: Date): Date | null;
  /** Overrides the executor's and the config's retry policy; null leaves them. */
  retry: RetryPolicy | null;
  /** False: only store the tasks, for a tick or a running worker to take. */
  worker: boolean;
}

export interface Enqueued {
  tasks: TaskRecord[];
  /** When the tasks were stored, and when they are due (null: at once). */
  storedAt: Date;
  dueAt: Date | null;
}

export async function enqueue(session: Session, executor: ExecutorFile, contexts: readonly TaskContext[], plan: EnqueuePlan): Promise<Enqueued> {
  const { config, store } = session;
  // Loading the executor may write its settings cache and jiti's: a home that exists is checked
  // first (a symbolic link is refused before anything goes through it).
  const homeExists = existsSync(config.home);
  if (homeExists) ensurePrivateDir(config.home);
  const settings = await executorSettings(executor, homeExists ? config.home : null);
  const defaults = taskDefaults(settings, config);
  const retry = plan.retry ?? defaults.retry;
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
  }));
  const { tasks, workerSlot } = await store.enqueue(inputs, storedAt, workers);
  if (workerSlot) {
    // Imported only when a worker must start: `run` with a worker already running skips it.
    const { spawnWorker } = await import("../worker/spawn.ts");
    spawnWorker(config, workerSlot);
  }
  return { tasks, storedAt, dueAt };
}

/** One task of the executor `name`, due at once, with its context as JSON text checked as `run --ctx` checks it: the dashboard's run form. */
export async function enqueueJsonContext(session: Session, name: string, text: string): Promise<TaskRecord> {
  const file = resolveExecutor(session.config.tasksDir, name);
  const context = mergeContext(parseContextJson(text, "the context"), {}, "the task");
  const { tasks } = await enqueue(session, file, [context], { runAt: () => null, retry: null, worker: true });
  return tasks[0]!;
}
