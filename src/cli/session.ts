// What every command starts from: the resolved config and the journal store it names.
import { fileURLToPath } from "node:url";
import { loadConfig, type Config, type LocationFlags } from "../config/config.ts";
import { openStore } from "../journal/open.ts";
import type { JournalStore } from "../journal/store.ts";
import type { TaskRecord } from "../core/task.ts";
import { isTaskId } from "../core/task.ts";
import { TaskNotFoundError, UsageError } from "../errors.ts";
import { toJson } from "./output/json.ts";

/** The installed bgtask package: resolved from here, at the depth of the CLI bundle (dist/cli/). */
export const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));

export interface Session {
  config: Config;
  store: JournalStore;
}

export async function openSession(flags: LocationFlags): Promise<Session> {
  const config = loadConfig(flags);
  const store = await openStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
  return { config, store };
}

export function checkTaskId(id: string): string {
  if (!isTaskId(id)) {
    const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
    throw new UsageError(`${shown} is not a task id: ids are numbers like 42, as \`bgtask list\` shows them`, { code: "EBADID" });
  }
  return id;
}

export async function getTask(session: Session, id: string) {
  const task = await session.store.get(checkTaskId(id));
  if (!task) throw new TaskNotFoundError(id);
  return task;
}

/**
 * The tasks of a command that takes several ids (each once), every one checked by `refuse` (the
 * error saying why it cannot be acted on, or null) before any is touched: one bad id, no change.
 */
export async function getTasks(session: Session, ids: readonly string[], refuse: (task: TaskRecord) => UsageError | null): Promise<TaskRecord[]> {
  const unique = [...new Set(ids.map(checkTaskId))];
  const tasks: TaskRecord[] = [];
  for (const id of unique) {
    const task = await session.store.get(id);
    const error = task ? refuse(task) : new TaskNotFoundError(id);
    if (error) throw unique.length > 1 ? new UsageError(`${error.message}; none of the ${unique.length} tasks was changed`, { code: error.code }) : error;
    tasks.push(task!);
  }
  return tasks;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value, 2)}\n`);
}
