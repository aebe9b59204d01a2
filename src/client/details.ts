// One task in full, for `status`: its record, the tail of its log, whether its worker is known to
// be gone, and what keeps it from running when it waits.
import type { TaskRecord } from "../core/task.ts";
import { readLogTail, type LogLines } from "./log-reader.ts";
import { getTask, type Session } from "./session.ts";
import { outlastsTicks, outlastsTicksReason, readTickBudget } from "./tick-budget.ts";
import { workerGone } from "./worker-gone.ts";
import { isSameProcess } from "./workers.ts";

export interface TaskDetails {
  task: TaskRecord;
  /** The last lines of its log. */
  logTail: LogLines;
  /** Its recorded worker is known to have exited (see workerGone). */
  workerGone: boolean;
  /** Why nothing will start this waiting task, when the last tick said so; else undefined. */
  notRun: string | undefined;
  /** Executors whose queue is paused. */
  pausedQueues: ReadonlySet<string>;
  /** Where a running try runs: its worker's slot, and how many tries that worker runs now; null when not running or its slot is gone. */
  place: { slot: string; running: number } | null;
}

/** The slot of the worker running `task`'s try, and that worker's tries now. */
async function placeOf(session: Session, task: TaskRecord): Promise<TaskDetails["place"]> {
  const worker = task.worker;
  if (task.status !== "running" || worker === null) return null;
  const [slots, running] = await Promise.all([session.store.workerSlots(), session.store.list({ statuses: ["running"] })]);
  const slot = slots.find((s) => s.process !== null && isSameProcess(s.process, worker));
  return slot ? { slot: slot.slot, running: running.filter((t) => t.worker !== null && isSameProcess(t.worker, worker)).length } : null;
}

export async function taskDetails(session: Session, id: string, tailLines: number): Promise<TaskDetails> {
  const { config } = session;
  const task = await getTask(session, id);
  const budget = config.worker ? null : readTickBudget(config.home);
  return {
    task,
    logTail: tailLines > 0 ? await readLogTail(session.store.taskOutput(config.home), task.id, tailLines) : [],
    workerGone: workerGone(task),
    notRun: budget !== null && outlastsTicks(task, budget.budgetMs) ? outlastsTicksReason(task, budget.budgetMs) : undefined,
    pausedQueues: new Set(await session.store.pausedQueues()),
    place: await placeOf(session, task),
  };
}
