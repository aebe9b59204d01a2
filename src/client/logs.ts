// A task's log for `logs`: read in whole lines, then, with `follow`, what is appended until the
// task is final, woken by the task output's notices of appends (a file's change, a PostgreSQL
// NOTIFY) and by the task's own changes.
import { isFinal, type TaskRecord } from "../core/task.ts";
import { follow, Tracker } from "./follow.ts";
import { parseLogText, type LogLines } from "./log-reader.ts";
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
  const output = session.store.taskOutput(session.config.home);
  const reader = output.logReader(task.id);
  const onText = (text: string) => onLines(parseLogText(text));
  await reader.readNew(onText);
  if (!options.follow || isFinal(task.status)) return { task, stopped: false };
  // A failed read of the log ends the follow with that error, as a failed journal read does.
  const failed = new AbortController();
  let failure: unknown = null;
  // One read at a time, in order: a notice that comes during a read is served by the next.
  let reading = Promise.resolve();
  const readNew = () => {
    reading = reading.then(async () => {
      if (failure !== null) return;
      try {
        await reader.readNew(onText);
      } catch (error) {
        failure = error;
        failed.abort();
      }
    });
    return reading;
  };
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  const logWatch = output.watchLog(task.id, () => void readNew());
  let how: "done" | "stopped";
  try {
    how = await follow(session, new Tracker(session.store, [task], false, 0), { update: readNew, note: () => undefined, noWorkers: false, signal });
  } finally {
    logWatch.close();
  }
  // The worker writes every line before it settles the try: this read gets the last ones.
  if (how === "done") await readNew();
  else await reading;
  if (failure !== null) throw failure;
  return { task, stopped: how === "stopped" };
}
