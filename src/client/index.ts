// `bgtask/client`: the operations of the CLI for the user's own Node code (and for executors that
// enqueue follow-up work). Its types (types.ts) are the public contract; client.ts implements
// them over the same modules the CLI commands use.
import { LocalClient } from "./client.ts";
import type { ClientOptions, Client } from "./types.ts";

export {
  BgtaskError,
  JournalCorruptError,
  JournalError,
  JournalLockedError,
  TaskNotFoundError,
  TaskRemovedError,
  UsageError,
  WaitTimeoutError,
} from "../errors.ts";
export type {
  Executors,
  RetryInput,
  TaskStatus,
  TaskRecord,
  RunRecord,
  ClientOptions,
  ContextOf,
  RunOptions,
  ListOptions,
  CancelOptions,
  RetryOptions,
  WaitOptions,
  WatchOptions,
  EventsOptions,
  TaskEvent,
  EventKind,
  TickOptions,
  TickResult,
  StatusCounts,
  Stats,
  WorkerInfo,
  AttachmentFile,
  AttachmentStream,
  ScheduleInfo,
  Client,
} from "./types.ts";

/**
 * A client for the project found as the CLI finds it (throws a UsageError with code "ENOPROJECT"
 * when there is none). Inside an executor, it finds the project of the worker running it.
 */
export function createClient(options: ClientOptions = {}): Client {
  return new LocalClient(options);
}
