// What every command starts from: the resolved config and the journal store it names.
import { loadConfig, type Config, type LocationFlags } from "../config/config.ts";
import { openJournal } from "../journal/open.ts";
import type { JournalStore } from "../journal/store.ts";
import { isTaskId } from "../core/task.ts";
import { TaskNotFoundError, UsageError } from "../errors.ts";
import { toJson } from "./output/json.ts";

export interface Session {
  config: Config;
  store: JournalStore;
}

export function openSession(flags: LocationFlags): Session {
  const config = loadConfig(flags);
  const store = openJournal(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
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

export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value, 2)}\n`);
}
