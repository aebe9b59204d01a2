// `bgtask status <id>`: one task in full, for a person or as the --json record.
import { getTask, openSession } from "../../client/session.ts";
import { taskDetails } from "../../client/details.ts";
import type { LocationFlags } from "../../config/config.ts";
import { publicRecord } from "../../core/task.ts";
import { loadColumnsFor } from "../output/columns.ts";
import { printJson } from "../output/json.ts";
import { renderStatus } from "../output/status.ts";
import { PACKAGE_DIR } from "../package-dir.ts";

const LOG_TAIL_LINES = 10;

export async function status(id: string, options: LocationFlags & { json?: boolean }): Promise<void> {
  const session = await openSession(options);
  if (options.json) {
    printJson(publicRecord(await getTask(session, id)));
    return;
  }
  const { task, logTail, workerGone, notRun, pausedQueues, place } = await taskDetails(session, id, LOG_TAIL_LINES);
  const hideFramesUnder = process.env.BGTASK_DEBUG === "1" ? null : `${PACKAGE_DIR}dist/`;
  await loadColumnsFor(JSON.stringify(task), JSON.stringify(logTail));
  process.stdout.write(`${renderStatus(task, new Date(), logTail, { hideFramesUnder, workerGone, notRun, pausedQueues, place })}\n`);
}
