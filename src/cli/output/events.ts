// The view of `bgtask events`: one line per event, in local time, its untrusted text (executor
// names, messages, errors, schedule names) stripped of terminal escapes. Pure: event in, line out.
import { EVENT_KINDS, type EventKind, type TaskEvent } from "../../core/events.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";

const KIND_COLOR: Partial<Record<EventKind, (s: string) => string>> = {
  enqueued: chalk.cyan,
  "schedule-fired": chalk.blue,
  started: chalk.yellow,
  paused: chalk.magenta,
  succeeded: chalk.green,
  failed: chalk.red,
  cancelled: chalk.gray,
  "retry-scheduled": chalk.yellow,
  recovered: chalk.red,
};

/** So that the task columns of consecutive lines line up. */
const KIND_WIDTH = Math.max(...EVENT_KINDS.map((kind) => kind.length));

const two = (n: number) => String(n).padStart(2, "0");

/** `2026-03-01 13:00:00.250`, in the local time zone: when a person reading the feed saw it happen. */
export function localTime(iso: string): string {
  const d = new Date(iso);
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${date} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** What the event carries beyond its task: progress and message, the error, the next run, the schedule. */
function details(event: TaskEvent): string[] {
  const parts: string[] = [];
  if (event.progress !== undefined) parts.push(`${Math.round(event.progress)}%`);
  if (event.message) parts.push(sanitizeInline(event.message));
  if (event.error) parts.push(chalk.red(sanitizeInline(event.error)));
  if (event.nextRunAt) parts.push(`next run ${localTime(event.nextRunAt)}`);
  if (event.schedule) parts.push(`schedule ${sanitizeInline(event.schedule.name)} slot ${localTime(event.schedule.slot)}`);
  return parts;
}

/** `<cursor>  <local time>  <kind>  <executor> #<id>  try N  <details>`. */
export function renderEventLine(event: TaskEvent): string {
  const kind = (KIND_COLOR[event.kind] ?? ((s: string) => s))(event.kind.padEnd(KIND_WIDTH));
  const task = `${sanitizeInline(event.executor)} ${chalk.bold(`#${event.taskId}`)}`;
  return [sanitizeInline(event.cursor), chalk.dim(localTime(event.at)), kind, task, `try ${event.try}`, ...details(event)].join("  ");
}
