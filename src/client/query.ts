// Reading tasks: a filtered page of the journal, active tasks first, then the newest finished.
import type { PageOrder } from "../core/list-order.ts";
import { TASK_STATUSES, type TaskRecord, type TaskStatus } from "../core/task.ts";
import { UsageError } from "../errors.ts";
import type { Session } from "./session.ts";

export const DEFAULT_LIST_LIMIT = 50;

/** Checks status names; `name` says where they came from in the error sentence. */
export function checkStatuses(values: readonly unknown[], name: string): TaskStatus[] {
  for (const status of values) {
    if (!(TASK_STATUSES as readonly unknown[]).includes(status)) {
      throw new UsageError(`${name} "${String(status)}" is not a status; use one of ${TASK_STATUSES.join(", ")}`);
    }
  }
  return values as TaskStatus[];
}

export interface ListQuery {
  statuses?: readonly TaskStatus[];
  executor?: string;
  /** Any positive number: a limit larger than the journal simply gives everything. */
  limit: number;
}

/** The page, whether the limit left tasks out, and the executors whose queue is paused. */
export async function listTasks(session: Session, query: ListQuery): Promise<{ tasks: TaskRecord[]; more: boolean; pausedQueues: ReadonlySet<string> }> {
  const { limit } = query;
  // One more than the limit: a full page may be all there is, and only one more proves the limit left some out.
  const page = await session.store.list({ statuses: query.statuses, executor: query.executor, limit: limit < Number.MAX_SAFE_INTEGER ? limit + 1 : limit });
  return { tasks: page.slice(0, limit), more: page.length > limit, pausedQueues: new Set(await session.store.pausedQueues()) };
}

export interface PageQuery {
  statuses?: readonly TaskStatus[];
  executor?: string;
  /** A task id, or a piece of a message (any case). */
  search?: string;
  order: PageOrder;
  /** From 0. */
  page: number;
  pageSize: number;
}

/** One page of the task table, read from the store page by page (never the whole journal), and whether more follow. */
export async function listPage(session: Session, query: PageQuery): Promise<{ tasks: TaskRecord[]; more: boolean }> {
  const { page, pageSize, ...match } = query;
  const tasks = await session.store.page({ ...match, offset: page * pageSize, limit: pageSize + 1 });
  return { tasks: tasks.slice(0, pageSize), more: tasks.length > pageSize };
}
