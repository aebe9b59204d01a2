// One task in full, for `status`: its record, the tail of its log, whether its worker is known to
// be gone, and what keeps it from running when it waits.
import type { TaskRecord } from "../core/task.ts";
import { readLogTail, type LogLines } from "./log-reader.ts";
import { getTask, type Session } from "./session.ts";
import { outlastsTicks, outlastsTicksReason, readTickBudget } from "./tick-budget.ts";
import { workerGone } from "./worker-gone.ts";

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
  };
}
