// `bgtask status <id>`: one task in full, for a person or as the --json record.
import { existsSync, readFileSync } from "node:fs";
import { publicRecord } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import { logPath } from "../../worker/task-log.ts";
import { renderStatus } from "../output/render.ts";
import { getTask, openSession, printJson } from "../session.ts";

const LOG_TAIL_LINES = 10;

function logTail(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trimEnd().split("\n").slice(-LOG_TAIL_LINES);
}

export async function status(id: string, options: LocationFlags & { json?: boolean }): Promise<void> {
  const session = openSession(options);
  const task = await getTask(session, id);
  if (options.json) printJson(publicRecord(task));
  else process.stdout.write(`${renderStatus(task, new Date(), logTail(logPath(session.config.home, task.id)))}\n`);
}
