// Storing new tasks as a run plan says (run-plan.ts): the executor's settings (from the settings
// cache, else its module), the durable insert, and the worker to start when one is needed.
import { existsSync } from "node:fs";
import { mergeContext, parseContextJson, type TaskContext } from "../core/context.ts";
import type { TaskRecord } from "../core/task.ts";
import type { KeyOutcome } from "../core/transitions.ts";
import { resolveExecutor, type ExecutorFile } from "../executor/discover.ts";
import { executorSettings } from "../executor/settings-cache.ts";
import { ensurePrivateDir } from "../host/home.ts";
import { slotsPerWorker } from "../config/config.ts";
import { slotRequest } from "../worker/recovery.ts";
import { environmentTrace, telemetryOf } from "../telemetry/otel.ts";
import { plannedTasks, runPlan, type RunPlan } from "./run-plan.ts";
import { getTask, type Session } from "./session.ts";

export interface Enqueued {
  /** Per context: the task stored, or the one its key found. */
  tasks: TaskRecord[];
  /** Per context: "created", or what its key did. */
  outcomes: KeyOutcome[];
  /** When the tasks were stored, and when they are due (null: at once). */
  storedAt: Date;
  dueAt: Date | null;
}

export async function enqueue(session: Session, executor: ExecutorFile, contexts: readonly TaskContext[], plan: RunPlan): Promise<Enqueued> {
  const { config, store } = session;
  // Looked up first, so that a missing one is refused without the journal's lock; the store
  // checks them again in its transaction (one may be removed in between).
  for (const id of plan.after) await getTask(session, id);
  // Loading the executor may write its settings cache and jiti's: a home that exists is checked
  // first (a symbolic link is refused before anything goes through it).
  const homeExists = existsSync(config.home);
  if (homeExists) ensurePrivateDir(config.home);
  const settings = await executorSettings(executor, homeExists ? config.home : null);
  // Which slots this host has and which of them are dead: gathered before the transaction, which takes facts only.
  const workers = plan.worker && config.worker ? await slotRequest(store, config) : null;
  // A task is created when it is stored, not when the call began: loading the executor's
  // settings may have taken a module import, and a delay counts from here.
  const storedAt = new Date();
  const dueAt = plan.runAt(storedAt);
  const planned = plannedTasks(plan, { name: executor.name, settings }, config, contexts, dueAt);
  const telemetry = await telemetryOf(config.root);
  const { tasks, outcomes, workerSlot } = await telemetry.send(executor.name, planned.length, async (active) => {
    const trace = active ?? environmentTrace();
    const inputs = trace ? planned.map((input) => ({ ...input, trace })) : planned;
    const result = await store.enqueue(inputs, storedAt, workers);
    return { ...result, ids: result.tasks.map((t) => t.id) };
  });
  if (workerSlot) {
    // Imported only when a worker must start: `run` with a worker already running skips it.
    const { spawnWorker, startWorkersIfNeeded } = await import("../worker/spawn.ts");
    spawnWorker(config, workerSlot);
    // More work than one worker's places (`run --each`, a bulk enqueue): the others it calls for.
    if (planned.length > slotsPerWorker(config)) await startWorkersIfNeeded(config, store);
  }
  return { tasks, outcomes, storedAt, dueAt };
}

/**
 * What `run --json` and the client add to a record when a key was given: `deduplicated` (no task
 * was created: the record is the one the key found) and, with replace, `replaced` (that task took
 * the new context and run time).
 */
export function keyFields(plan: Pick<RunPlan, "key" | "replace">, outcome: KeyOutcome): { deduplicated?: boolean; replaced?: boolean } {
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
  const { tasks } = await enqueue(session, file, [context], runPlan({}, "field"));
  return tasks[0]!;
}
