// `bgtask status <id>`: one task in full, for a person or as the --json record.
import { publicRecord } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import { taskLogPath } from "../../host/home.ts";
import { readLogTail } from "../log-reader.ts";
import { renderStatus } from "../output/render.ts";
import { getTask, openSession, PACKAGE_DIR, printJson } from "../session.ts";
import { outlastsTicks, outlastsTicksReason, readTickBudget } from "../tick-budget.ts";
import { workerGone } from "../worker-gone.ts";

const LOG_TAIL_LINES = 10;

export async function status(id: string, options: LocationFlags & { json?: boolean }): Promise<void> {
  const session = await openSession(options);
  const task = await getTask(session, id);
  if (options.json) printJson(publicRecord(task));
  else {
    const tail = readLogTail(taskLogPath(session.config.home, task.id), LOG_TAIL_LINES);
    const hideFramesUnder = process.env.BGTASK_DEBUG === "1" ? null : `${PACKAGE_DIR}dist/`;
    const budget = session.config.worker ? null : readTickBudget(session.config.home);
    const notRun = budget !== null && outlastsTicks(task, budget.budgetMs) ? outlastsTicksReason(task, budget.budgetMs) : undefined;
    process.stdout.write(`${renderStatus(task, new Date(), tail, { hideFramesUnder, workerGone: workerGone(task), notRun })}\n`);
  }
}
