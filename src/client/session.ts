// What every operation starts from: the resolved config and the journal store it names. The only
// module that opens a store, so an asynchronous open (a database connection) slots in here alone.
import { loadConfig, type Config, type LocationFlags } from "../config/config.ts";
import { isTaskId, type TaskRecord } from "../core/task.ts";
import { TaskNotFoundError, UsageError } from "../errors.ts";
import { openStore as openJournalStore } from "../journal/open.ts";
import type { JournalStore } from "../journal/store.ts";

export interface Session {
  config: Config;
  store: JournalStore;
}

/** The stores a command opened through openSession, closed by closeSessions when it is done. */
const opened = new Set<JournalStore>();

/** The store `config` names, opened (the one place a store is opened). */
export function openStore(config: Config): Promise<JournalStore> {
  return openJournalStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
}

export async function openSession(flags: LocationFlags): Promise<Session> {
  const config = loadConfig(flags);
  const store = await openStore(config);
  opened.add(store);
  return { config, store };
}

/** Closes what the command's sessions opened: a database connection would keep the process alive. */
export async function closeSessions(): Promise<void> {
  const stores = [...opened];
  opened.clear();
  await Promise.all(stores.map((store) => store.close()));
}

export function checkTaskId(id: string): string {
  // From JavaScript callers: the id of a record is a string, and "42" is what to pass.
  if (typeof id !== "string") throw new UsageError(`task ids are strings like "42", not ${typeof id === "number" ? "numbers" : typeof id}`, { code: "EBADID" });
  if (!isTaskId(id)) {
    const shown = JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id);
    throw new UsageError(`${shown} is not a task id: ids are numbers like 42, as \`bgtask list\` shows them`, { code: "EBADID" });
  }
  return id;
}

export async function getTask(session: Session, id: string): Promise<TaskRecord> {
  const task = await session.store.get(checkTaskId(id));
  if (!task) throw new TaskNotFoundError(id);
  return task;
}

/**
 * Each of `ids` (once, in order), checked to exist, from one read: a follow of thousands read task
 * by task loaded the file journal once per task.
 */
export async function getEach(session: Session, ids: readonly string[]): Promise<TaskRecord[]> {
  const unique = [...new Set(ids.map(checkTaskId))];
  const found = new Map((await session.store.list({ ids: unique })).map((task) => [task.id, task]));
  return unique.map((id) => {
    const task = found.get(id);
    if (!task) throw new TaskNotFoundError(id);
    return task;
  });
}

/**
 * The tasks of an operation on several ids (each once), every one checked by `refuse` (the error
 * saying why it cannot be acted on, or null) before any is touched: one bad id, no change.
 */
/** A refusal of one of `count` tasks asked for at once: it says that none of them was changed. */
export function noneChanged(error: UsageError, count: number): UsageError {
  return count > 1 ? new UsageError(`${error.message}; none of the ${count} tasks was changed`, { code: error.code }) : error;
}

export async function getTasks(session: Session, ids: readonly string[], refuse: (task: TaskRecord) => UsageError | null = () => null): Promise<TaskRecord[]> {
  const unique = [...new Set(ids.map(checkTaskId))];
  const tasks: TaskRecord[] = [];
  for (const id of unique) {
    const task = await session.store.get(id);
    const error = task ? refuse(task) : new TaskNotFoundError(id);
    if (error) throw noneChanged(error, unique.length);
    tasks.push(task!);
  }
  return tasks;
}
