// A task's log for `logs`: read in whole lines, then, with `follow`, what is appended until the
// task is final.
import { isFinal, type TaskRecord } from "../core/task.ts";
import { watchFile } from "../host/file-watch.ts";
import { taskLogPath } from "../host/home.ts";
import { follow, Tracker } from "./follow.ts";
import { LogFollower, type LogLines } from "./log-reader.ts";
import { getTask, type Session } from "./session.ts";

export type { LogLines };

export interface ReadLogOptions {
  /** Keep reading new lines as they are written until the task is final (or removed). */
  follow?: boolean;
  /** Ends a follow early. */
  signal?: AbortSignal;
}

/**
 * Hands the task's log to `onLines` (once per chunk, never the whole of a big log at once), then,
 * with `follow`, what is appended until it is final. Resolves with the task as it was first read,
 * and whether `signal` stopped the follow.
 */
export async function readTaskLog(
  session: Session,
  id: string,
  onLines: (lines: LogLines) => void,
  options: ReadLogOptions = {},
): Promise<{ task: TaskRecord; stopped: boolean }> {
  const task = await getTask(session, id);
  const path = taskLogPath(session.config.home, task.id);
  const follower = new LogFollower(path);
  follower.readNew(onLines);
  if (!options.follow || isFinal(task.status)) return { task, stopped: false };
  // A failed read of the log ends the follow with that error, as a failed journal read does.
  const failed = new AbortController();
  let failure: unknown = null;
  const readNew = () => {
    try {
      if (failure === null) follower.readNew(onLines);
    } catch (error) {
      failure = error;
      failed.abort();
    }
  };
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const logWatch = watchFile(path, readNew);
  let how: "done" | "stopped";
  try {
    how = await follow(session, new Tracker(session.store, [task], false, 0), { update: readNew, note: () => undefined, noWorkers: false, signal });
  } finally {
    logWatch.close();
  }
  // The worker writes every line before it settles the try: this read gets the last ones.
  if (how === "done") readNew();
  if (failure !== null) throw failure;
  return { task, stopped: how === "stopped" };
}
