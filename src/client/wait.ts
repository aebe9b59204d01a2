// Waiting for tasks to be final, and a stream of their records as they change: both are the
// follow loop (follow.ts) with a different ending.
import { formatDuration } from "../core/duration.ts";
import { isFinal, type TaskRecord } from "../core/task.ts";
import { TaskRemovedError, WaitTimeoutError } from "../errors.ts";
import { configNoWorkers, follow, track, type Tracker } from "./follow.ts";
import type { Session } from "./session.ts";

export interface WaitOptions {
  /** Give up after this long: rejects with WaitTimeoutError. */
  timeoutMs?: number;
  /** Ends the wait early, resolving with null. */
  signal?: AbortSignal;
  /** Sentences about why the wait may be long (a dead worker recovered, no worker to come). */
  note?(text: string): void;
  /** As FollowOptions.noWorkers; default: the project's own setting. */
  noWorkers?: string | null;
}

/**
 * Resolves with the final records of `ids` (in that order, each once) once all are final; null
 * when `signal` ended the wait first. Rejects with WaitTimeoutError when the timeout came first,
 * and with TaskRemovedError when a task was removed, since it will never be final then.
 */
export async function waitForTasks(session: Session, ids: readonly string[], options: WaitOptions = {}): Promise<TaskRecord[] | null> {
  const tracker = await track(session, ids);
  const timeout = options.timeoutMs === undefined ? null : AbortSignal.timeout(options.timeoutMs);
  const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined && s !== null);
  const how = await follow(session, tracker, {
    update: () => undefined,
    note: options.note ?? (() => undefined),
    noWorkers: options.noWorkers === undefined ? configNoWorkers(session) : options.noWorkers,
    signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
  });
  const entries = [...tracker.entries.values()];
  const removed = entries.find((e) => e.gone);
  if (removed) throw new TaskRemovedError(removed.task.id);
  if (how === "done") return entries.map((e) => e.task);
  if (timeout?.aborted)
    throw new WaitTimeoutError(
      entries.filter((e) => !isFinal(e.task.status)).map((e) => e.task.id),
      formatDuration(options.timeoutMs!),
    );
  return null;
}

/** A record is worth passing on when it changed, not when only its heartbeat did. */
function changeKey(task: TaskRecord): string {
  return JSON.stringify({ ...task, heartbeatAt: null, lease: null });
}

/**
 * The records of `ids` (every active task when null) as they change, starting with each as it
 * is now, until all are final; a removed task simply stops appearing. Breaking out of the loop
 * (or `signal`) ends the follow.
 */
export async function* watchTasks(session: Session, ids: readonly string[] | null, signal?: AbortSignal): AsyncGenerator<TaskRecord, void, undefined> {
  const tracker: Tracker = await track(session, ids);
  const queue: TaskRecord[] = [];
  const seen = new Map<string, string>();
  let wake: (() => void) | null = null;
  const stop = new AbortController();
  const update = () => {
    for (const [id, entry] of tracker.entries) {
      const key = entry.gone ? "gone" : changeKey(entry.task);
      if (seen.get(id) === key) continue;
      seen.set(id, key);
      if (!entry.gone) queue.push(entry.task);
    }
    wake?.();
  };
  let ended = false;
  let failure: unknown = null;
  const following = follow(session, tracker, {
    update,
    note: () => undefined,
    noWorkers: configNoWorkers(session),
    signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
  })
    .then(
      () => undefined,
      (error: unknown) => {
        failure = error;
      },
    )
    .finally(() => {
      ended = true;
      wake?.();
    });
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (failure !== null) throw failure;
      if (ended) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  } finally {
    stop.abort();
    await following;
  }
}
