// Pausing and resuming executors' queues (`bgtask pause`, `bgtask resume`). A paused queue is kept
// in the journal, so every worker, tick and host holds to it: nothing of it is claimed, and the
// tries already running finish. Not the task status "paused" (a chunked task that gave back control).
import { UsageError } from "../errors.ts";
import { discoverExecutors, resolveExecutor } from "../executor/discover.ts";
import { startWorkersIfNeeded } from "../worker/spawn.ts";
import type { Session } from "./session.ts";

/** Which queues: executors by name, or every one (`--all`). */
export type QueueTarget = { executors: readonly string[] } | { all: true };

export interface QueueChange {
  /** The queues named, in the order given (or every one, for all). */
  queues: string[];
  /** Every paused queue after the change, sorted. */
  paused: string[];
}

async function targetQueues(session: Session, target: QueueTarget, pausing: boolean, named: (option: string) => string): Promise<string[]> {
  if ("all" in target) {
    // Resuming all restarts every queue the journal holds paused, also one whose module is gone.
    return pausing ? discoverExecutors(session.config.tasksDir).found.map((e) => e.name) : session.store.pausedQueues();
  }
  if (target.executors.length === 0) throw new UsageError(`give the executors whose queue to ${pausing ? "pause" : "resume"}, or ${named("all")}`);
  const paused = new Set(pausing ? [] : await session.store.pausedQueues());
  // An executor's module may have gone while its queue was paused: it can still be resumed.
  return [...new Set(target.executors.map((name) => (paused.has(name) ? name : resolveExecutor(session.config.tasksDir, name).name)))];
}

/** The executors whose queue is paused, sorted. */
export function pausedQueues(session: Session): Promise<string[]> {
  return session.store.pausedQueues();
}

/**
 * Pauses (`paused: true`) or resumes queues; every name is checked first (an unknown executor
 * changes nothing). A resumed queue's tasks get a worker, as `run`'s would (unless workers are off).
 */
export async function setQueuesPaused(session: Session, target: QueueTarget, paused: boolean, named: (option: string) => string): Promise<QueueChange> {
  const queues = await targetQueues(session, target, paused, named);
  const change = { queues, paused: await session.store.pauseQueues(queues, paused) };
  if (!paused && queues.length > 0) await startWorkersIfNeeded(session.config, session.store);
  return change;
}
