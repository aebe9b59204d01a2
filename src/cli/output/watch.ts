// The views of `bgtask watch`: the live frame (a line per task and a footer), the plain line per
// change without a terminal, and the summary line each task ends with.
import { formatDuration } from "../../core/duration.ts";
import type { TaskRecord, TaskStatus } from "../../core/task.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";
import { colorStatus, fitWidth, progressBar, until } from "./text.ts";

const SYMBOL: Record<TaskStatus, string> = {
  queued: "·",
  scheduled: "◷",
  running: "",
  paused: "‖",
  succeeded: chalk.green("✔"),
  failed: chalk.red("✖"),
  cancelled: chalk.gray("⊘"),
};

/** Whole seconds: a live view ticking through milliseconds is noise. */
function seconds(ms: number): string {
  return ms < 1000 ? "0s" : formatDuration(ms);
}

/** How long the last try ran, or has been running. */
function tookMs(task: TaskRecord, now: Date): number | null {
  if (!task.startedAt) return null;
  const end = task.finishedAt ? Date.parse(task.finishedAt) : now.getTime();
  return Math.max(0, end - Date.parse(task.startedAt));
}

function stepText(task: TaskRecord): string | null {
  return task.step ? `step ${task.step.index + 1}/${task.step.count} ${sanitizeInline(task.step.name)}` : null;
}

function messageOf(task: TaskRecord): string | null {
  const message = task.message ?? task.error?.message ?? null;
  return message ? sanitizeInline(message) : null;
}

export interface WatchLineInput {
  task: TaskRecord;
  now: Date;
  /** The spinner frame shown by running tasks. */
  spinner: string;
  /** From the recent rate of progress; null when unknown. */
  remainingMs: number | null;
  /** Widths to pad the id and executor to, so the bars of several tasks line up. */
  align?: { id: number; executor: number };
  /** What holds it when it waits (see holdNote). */
  held?: string | null;
}

/** One task's line of the live view; `width` is the terminal's. */
export function renderWatchLine({ task, now, spinner, remainingMs, align, held }: WatchLineInput, width: number): string {
  const symbol = task.status === "running" ? chalk.yellow(spinner) : SYMBOL[task.status];
  const id = chalk.bold(task.id.padEnd(align?.id ?? 0));
  const parts = [`${symbol} ${id} ${sanitizeInline(task.executor).padEnd(align?.executor ?? 0)}`];
  const ran = tookMs(task, now);
  switch (task.status) {
    case "running":
      parts.push(`${progressBar(task.progress)} ${String(Math.round(task.progress)).padStart(3)}%`);
      parts.push(
        ...[
          stepText(task),
          ran !== null ? seconds(ran) : null,
          remainingMs !== null ? `ETA ${remainingMs < 1000 ? "<1s" : seconds(remainingMs)}` : null,
        ].filter((p) => p !== null),
      );
      break;
    case "queued":
      parts.push(colorStatus("queued"), chalk.dim(`waiting ${seconds(Math.max(0, now.getTime() - Date.parse(task.createdAt)))}`));
      break;
    case "scheduled": {
      const when = task.nextRunAt ? until(task.nextRunAt, now) : "when a worker is free";
      parts.push(colorStatus("scheduled"), task.tries > 0 ? `try ${task.tries + 1}/${task.maxTries} ${when}` : `starts ${when}`);
      break;
    }
    case "paused":
      parts.push(
        colorStatus("paused"),
        ...[stepText(task)].filter((p) => p !== null),
        task.nextRunAt ? `resumes ${until(task.nextRunAt, now)}` : "resumes with the next worker or tick",
      );
      break;
    default:
      parts.push(
        colorStatus(task.status),
        ...(ran !== null ? [`in ${formatDuration(ran)}`] : []),
        ...(task.tries > 1 ? [`(try ${task.tries} of ${task.maxTries})`] : []),
      );
  }
  if (held) parts.push(chalk.yellow(held));
  const message = messageOf(task);
  if (message) parts.push(task.status === "running" ? message : chalk.dim(message));
  return fitWidth(parts.join("  "), width);
}

export type StatusCounts = Partial<Record<TaskStatus, number>>;

export function countStatuses(tasks: Iterable<TaskRecord>): StatusCounts {
  const counts: StatusCounts = {};
  for (const task of tasks) counts[task.status] = (counts[task.status] ?? 0) + 1;
  return counts;
}

/** queued · scheduled · running · done · failed, always; paused and cancelled when there are some. */
export function renderFooter(counts: StatusCounts): string {
  const shown: [string, TaskStatus, boolean][] = [
    ["queued", "queued", true],
    ["scheduled", "scheduled", true],
    ["running", "running", true],
    ["paused", "paused", false],
    ["done", "succeeded", true],
    ["failed", "failed", true],
    ["cancelled", "cancelled", false],
  ];
  return chalk.dim(
    shown
      .filter(([, status, always]) => always || (counts[status] ?? 0) > 0)
      .map(([label, status]) => `${label} ${counts[status] ?? 0}`)
      .join(" · "),
  );
}

/** The whole live view: task lines (cut to fit `rows`, saying how many were left out), then the footer. */
export function renderWatchFrame(lines: readonly string[], footer: string, rows: number): string {
  const room = Math.max(1, rows - 2);
  const shown = lines.length > room ? [...lines.slice(0, room - 1), chalk.dim(`… and ${lines.length - room + 1} more`)] : lines;
  return [...shown, footer].join("\n");
}

/** One plain line for a change of a watched task (no TTY tricks). */
export function renderChangeLine(task: TaskRecord, held: string | null = null): string {
  const parts = [task.id, sanitizeInline(task.executor), task.status, `${Math.round(task.progress)}%`];
  if (held) parts.push(`(${held})`);
  const step = stepText(task);
  if (step) parts.push(step);
  if ((task.status === "scheduled" || task.status === "paused") && task.nextRunAt) {
    parts.push(task.tries > 0 && task.status === "scheduled" ? `try ${task.tries + 1}/${task.maxTries} at ${task.nextRunAt}` : `at ${task.nextRunAt}`);
  }
  const message = messageOf(task);
  if (message) parts.push(message);
  return parts.join(" ");
}

/** The line `watch` ends with for each task. */
export function renderSummaryLine(task: TaskRecord, now: Date): string {
  const ran = tookMs(task, now);
  const parts = [`${SYMBOL[task.status] || "·"} ${task.id} ${sanitizeInline(task.executor)} ${colorStatus(task.status)}`];
  if (task.tries > 1) parts.push(`(try ${task.tries} of ${task.maxTries})`);
  if (ran !== null && task.completed) parts.push(`in ${formatDuration(ran)}`);
  const message = messageOf(task);
  return `${parts.join(" ")}${message ? `: ${message}` : ""}`;
}
