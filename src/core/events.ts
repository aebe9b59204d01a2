// The event feed's events (`bgtask events`, `client.events()`): one per transition of a task, as a
// store writes it. Pure: a store works out a write's events here from the task's record before and
// after it, keeps them in the same transaction as the write, and hands each out with a cursor of
// its own making. The counters (core/counters.ts) count the same transitions.
import { isFinal, type TaskRecord } from "./task.ts";

/**
 * What happened to a task: `retry-scheduled` after a try that did not end it, `retried` for a final
 * task queued again (`bgtask retry`), `given-back` for a try claimed but never started (a worker
 * leaving), `recovered` for a try whose worker died (beside how it ended), `paused`/`resumed` for a
 * try paused on its budget.
 */
export const EVENT_KINDS = [
  "enqueued",
  "schedule-fired",
  "started",
  "progress",
  "paused",
  "resumed",
  "succeeded",
  "failed",
  "cancelled",
  "retry-scheduled",
  "retried",
  "given-back",
  "recovered",
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One transition as the feed hands it out. */
export interface TaskEvent {
  /** Where the feed resumes after this event (`--since`); opaque, each store's own. */
  cursor: string;
  at: string;
  kind: EventKind;
  taskId: string;
  executor: string;
  /** The task's try at the event (0 before its first). */
  try: number;
  /** The task's status after the event. */
  status: TaskRecord["status"];
  /** `progress`: the task's progress and message; `failed`, `retry-scheduled`, `recovered`: the error. */
  progress?: number;
  message?: string | null;
  error?: string;
  /** `retry-scheduled`: when the next try is due. */
  nextRunAt?: string;
  /** `schedule-fired`: the schedule and slot that made the task. */
  schedule?: { name: string; slot: string };
}

/** An event as a store keeps it, before it has a cursor. */
export type NewEvent = Omit<TaskEvent, "cursor">;

const KINDS: ReadonlySet<string> = new Set(EVENT_KINDS);

/** Whether `x` is an event as a journal keeps it (the fields every event has, of the right types). */
export function isNewEvent(x: unknown): x is NewEvent {
  if (typeof x !== "object" || x === null) return false;
  const e = x as Record<string, unknown>;
  return (
    typeof e.at === "string" &&
    typeof e.kind === "string" &&
    KINDS.has(e.kind) &&
    typeof e.taskId === "string" &&
    typeof e.executor === "string" &&
    Number.isSafeInteger(e.try) &&
    typeof e.status === "string"
  );
}

/**
 * The transitions from `before` (null: the task is new) to `after` (null: it was removed), in the
 * order they happened. A try paused on its budget and resumed is one try.
 */
export function transitionsOf(before: TaskRecord | null, after: TaskRecord | null): EventKind[] {
  if (after === null) return [];
  if (before === null) {
    const made: EventKind[] = after.schedule ? ["schedule-fired", "enqueued"] : ["enqueued"];
    return isFinal(after.status) ? [...made, after.status as EventKind] : made;
  }
  if (before.status === after.status) {
    const reported = after.status === "running" && (after.progress !== before.progress || after.message !== before.message);
    return reported ? ["progress"] : [];
  }
  if (before.status === "running" && after.status === "paused") return ["paused"];
  if (before.status === "paused" && after.status === "running") return ["resumed"];
  if (after.status === "running") return ["started"];
  if (before.status === "running" && after.tries < before.tries) return ["given-back"];
  if (isFinal(after.status)) return [after.status as EventKind];
  if (before.status === "running") return ["retry-scheduled"];
  return isFinal(before.status) ? ["retried"] : [];
}

/** The events of a write of `after` over `before` at `now` (see transitionsOf). */
export function eventsOf(before: TaskRecord | null, after: TaskRecord | null, now: Date): NewEvent[] {
  if (after === null) return [];
  return transitionsOf(before, after).map((kind) => eventOf(kind, after, now));
}

/** `kind` of `task` (as it is after it) at `now`, with the fields that kind carries. */
export function eventOf(kind: EventKind, task: TaskRecord, now: Date): NewEvent {
  const event: NewEvent = { at: now.toISOString(), kind, taskId: task.id, executor: task.executor, try: task.tries, status: task.status };
  if (kind === "progress") return { ...event, progress: task.progress, message: task.message };
  if (kind === "schedule-fired" && task.schedule) return { ...event, schedule: { name: task.schedule.name, slot: task.schedule.slot } };
  if ((kind === "failed" || kind === "retry-scheduled" || kind === "recovered") && task.error) event.error = task.error.message;
  if (kind === "retry-scheduled" && task.nextRunAt !== null) event.nextRunAt = task.nextRunAt;
  return event;
}
