// Pure formatting: data in, text out. No I/O and no clock (callers pass `now`), so every view
// can be checked by unit tests. All untrusted text passes through sanitize here.
import { columns } from "./columns.ts";
import { chalk } from "./paint.ts";
import type { LogLine } from "../../core/log-line.ts";
import type { TaskRecord, TaskStatus } from "../../core/task.ts";
import { formatDuration } from "../../core/duration.ts";
import { sanitize, sanitizeInline } from "./sanitize.ts";

const STATUS_COLOR: Record<TaskStatus, (s: string) => string> = {
  queued: chalk.cyan,
  scheduled: chalk.blue,
  running: chalk.yellow,
  paused: chalk.magenta,
  succeeded: chalk.green,
  failed: chalk.red,
  cancelled: chalk.gray,
};

export function colorStatus(status: TaskStatus): string {
  return STATUS_COLOR[status](status);
}

// The split keeps the styles as their own chunks: only the text between them takes up columns.
// eslint-disable-next-line no-control-regex
const STYLES = /(\u001b\[[0-9;]*m)/;
let graphemes: Intl.Segmenter | null = null;

/**
 * Cuts a styled line to `width` terminal columns (ending in …), keeping styles and characters
 * whole: a CJK character or an emoji takes two columns, a style none.
 */
export function fitWidth(text: string, width: number): string {
  if (columns(text) <= width) return text;
  let out = "";
  let used = 0;
  cut: for (const [i, chunk] of text.split(STYLES).entries()) {
    if (i % 2 === 1) {
      out += chunk;
      continue;
    }
    for (const { segment } of (graphemes ??= new Intl.Segmenter()).segment(chunk)) {
      const w = columns(segment);
      if (used + w > width - 1) break cut;
      out += segment;
      used += w;
    }
  }
  return `${out}…${chalk.level > 0 ? "\u001b[0m" : ""}`;
}

export function progressBar(percent: number, width = 20): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]} (${bytes} B)`;
}

/** Columns padded to the widest cell, in terminal columns; the last column is left ragged. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(columns(h), ...rows.map((r) => columns(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - columns(cell))))
      .join("  ")
      .trimEnd();
  return [line(headers.map((h) => chalk.bold(h))), ...rows.map(line)].join("\n");
}

export function age(iso: string | null, now: Date): string {
  if (!iso) return "-";
  return formatDuration(Math.max(0, now.getTime() - Date.parse(iso)));
}

/** An attribute value for a table cell: strings as they are, anything else as JSON. */
function attributeValue(value: unknown): string {
  return sanitizeInline(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
}

/** `workerGone`: ids of running tasks whose worker is known to have exited. */
export function renderList(tasks: readonly TaskRecord[], now: Date, workerGone: ReadonlySet<string> = new Set()): string {
  if (tasks.length === 0) return "no tasks";
  return table(
    // AGE counts from creation, ENDED from the finish, which is what `remove --older-than` counts.
    ["ID", "EXECUTOR", "STATUS", "PROGRESS", "TRIES", "AGE", "ENDED", "MESSAGE"],
    tasks.map((t) => [
      t.id,
      sanitizeInline(t.executor),
      workerGone.has(t.id) ? `${colorStatus(t.status)} ${chalk.red("(worker gone)")}` : colorStatus(t.status),
      `${Math.round(t.progress)}%`,
      `${t.tries}/${t.maxTries}`,
      age(t.createdAt, now),
      age(t.finishedAt, now),
      fitWidth(sanitizeInline(t.message ?? t.error?.message ?? ""), 60),
    ]),
  );
}

// ---- logs ------------------------------------------------------------------------------------

const STREAM_COLOR: Record<string, (s: string) => string> = { stderr: chalk.red, bgtask: chalk.dim };

/**
 * Log file lines for a person: a marker where a try begins (`previousTry` carries over between
 * calls, for `logs --follow`), then time, stream and text. Lines not in the log format pass through.
 */
export function renderLogLines(lines: readonly (LogLine | string)[], previousTry: number | null = null): { text: string[]; lastTry: number | null } {
  const text: string[] = [];
  let current = previousTry;
  for (const line of lines) {
    if (typeof line === "string") {
      text.push(sanitizeInline(line));
      continue;
    }
    if (line.try !== current) {
      current = line.try;
      text.push(chalk.bold(`── try ${line.try} ──`));
    }
    const stream = line.stream.padEnd(6);
    text.push(`${chalk.dim(line.at)} ${(STREAM_COLOR[line.stream] ?? ((s: string) => s))(stream)} ${sanitizeInline(line.text)}`);
  }
  return { text, lastTry: current };
}

// ---- status ----------------------------------------------------------------------------------

function field(label: string, value: string): string {
  return `${chalk.bold(label.padEnd(11))} ${value}`;
}

function indent(text: string, by = "  "): string {
  return text
    .split("\n")
    .map((line) => by + line)
    .join("\n");
}

function until(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  return ms <= 0 ? "due now" : `in ${ms < 1000 ? "<1s" : formatDuration(ms)}`;
}

const FRAME_LINE = /^\s+at /;

/**
 * A stack for a person: the message, then the frames outside `hideUnder` (bgtask's own files,
 * which only its developers need) in their order, then how many of those were left out.
 */
export function presentStack(stack: string, hideUnder: string | null): string {
  if (hideUnder === null) return stack;
  const lines = stack.split("\n");
  const own = (line: string) => FRAME_LINE.test(line) && line.includes(hideUnder);
  const hidden = lines.filter(own).length;
  if (hidden === 0) return stack;
  const note = `    … ${hidden} frame${hidden === 1 ? "" : "s"} inside bgtask (BGTASK_DEBUG=1 shows them)`;
  return [...lines.filter((line) => !own(line)), note].join("\n");
}

export interface StatusOptions {
  /** Stack frames of files under this folder are left out (bgtask's own); null shows every frame. */
  hideFramesUnder: string | null;
  /** The recorded worker is known to have exited (see cli/worker-gone.ts). */
  workerGone?: boolean;
  /** Why nothing will start this waiting task (see cli/tick-budget.ts). */
  notRun?: string;
}

/**
 * Remaining tries mean something only while the task may still run. A task that failed before its
 * policy ran out met an error that is not retried (it threw UnrecoverableError, or its executor
 * cannot be loaded): "0 remaining" would read as a policy used up.
 */
function triesText(task: TaskRecord): string {
  const count = `${task.tries} of ${task.maxTries}`;
  if (!task.completed) return `${count} (${task.remainingTries} remaining)`;
  if (task.status === "failed" && task.tries < task.maxTries) return `${count} (not retried: this error ends the task at once)`;
  return count;
}

export function renderStatus(task: TaskRecord, now: Date, logTail: readonly (LogLine | string)[], options: StatusOptions = { hideFramesUnder: null }): string {
  const out: string[] = [];
  out.push(field("task", `${task.id} ${chalk.dim("·")} ${sanitizeInline(task.executor)}`));
  out.push(field("status", colorStatus(task.status)));
  out.push(field("progress", `${progressBar(task.progress)} ${Math.round(task.progress)}%`));
  if (task.message) out.push(field("message", sanitizeInline(task.message)));
  if (task.step) out.push(field("step", `${task.step.index + 1}/${task.step.count} ${sanitizeInline(task.step.name)}`));
  out.push(field("tries", triesText(task)));
  out.push(field("created", `${task.createdAt} (${age(task.createdAt, now)} ago)`));
  if (task.startedAt) out.push(field("started", task.startedAt));
  if (task.finishedAt) out.push(field("finished", `${task.finishedAt}${task.startedAt ? ` (took ${age(task.startedAt, new Date(task.finishedAt))})` : ""}`));
  if (task.nextRunAt) out.push(field("next run", `${task.nextRunAt} (${until(task.nextRunAt, now)})`));
  if (options.notRun) out.push(field("not run", chalk.red(sanitizeInline(options.notRun))));
  if (task.worker) {
    const gone = options.workerGone ? chalk.red(" — gone: that process has exited; the next worker, tick or `bgtask watch` recovers this try") : "";
    out.push(field("worker", `pid ${task.worker.pid} on ${sanitizeInline(task.worker.host)}${gone}`));
  }
  if (task.timeoutAt) out.push(field("times out", `${task.timeoutAt}${Date.parse(task.timeoutAt) <= now.getTime() ? " (passed)" : ""}`));
  if (task.cancelRequestedAt) out.push(field("cancel", `requested at ${task.cancelRequestedAt}; waiting for the task to stop`));
  out.push(field("context", sanitizeInline(JSON.stringify(task.context))));
  const attributes = Object.entries(task.attributes);
  if (attributes.length > 0) {
    out.push(chalk.bold("attributes"));
    out.push(indent(table(["NAME", "VALUE"], attributes.map(([k, v]) => [sanitizeInline(k), attributeValue(v)]))));
  }
  if (task.result !== null && task.result !== undefined) out.push(field("result", sanitizeInline(JSON.stringify(task.result))));
  if (task.attachments.length > 0) {
    out.push(chalk.bold("attachments"));
    out.push(indent(table(["NAME", "SIZE", "PATH"], task.attachments.map((a) => [sanitizeInline(a.name), formatBytes(a.size), sanitizeInline(a.path)]))));
  }
  if (task.error) {
    out.push(chalk.bold("error") + (task.error.where ? chalk.dim(` at ${sanitizeInline(task.error.where)}`) : ""));
    out.push(indent(chalk.red(sanitize(task.error.stack ? presentStack(task.error.stack, options.hideFramesUnder) : task.error.message))));
  }
  const failedTries = task.history.filter((h) => h.error !== null);
  // The last failure is shown in full above; list them all once there is more than that one.
  if (failedTries.length > (task.error ? 1 : 0)) {
    out.push(chalk.bold("failed tries"));
    for (const h of failedTries) {
      out.push(indent(`try ${h.try}: ${sanitizeInline(h.error!.message)}${h.error!.where ? ` (${sanitizeInline(h.error!.where)})` : ""}`));
    }
  }
  if (logTail.length > 0) {
    out.push(chalk.bold("log (last lines)"));
    out.push(indent(renderLogLines(logTail).text.join("\n")));
  }
  return out.join("\n");
}

// ---- watch -----------------------------------------------------------------------------------

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
}

/** One task's line of the live view; `width` is the terminal's. */
export function renderWatchLine({ task, now, spinner, remainingMs, align }: WatchLineInput, width: number): string {
  const symbol = task.status === "running" ? chalk.yellow(spinner) : SYMBOL[task.status];
  const id = chalk.bold(task.id.padEnd(align?.id ?? 0));
  const parts = [`${symbol} ${id} ${sanitizeInline(task.executor).padEnd(align?.executor ?? 0)}`];
  const ran = tookMs(task, now);
  switch (task.status) {
    case "running":
      parts.push(`${progressBar(task.progress)} ${String(Math.round(task.progress)).padStart(3)}%`);
      parts.push(...[stepText(task), ran !== null ? seconds(ran) : null, remainingMs !== null ? `ETA ${remainingMs < 1000 ? "<1s" : seconds(remainingMs)}` : null].filter((p) => p !== null));
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
      parts.push(colorStatus("paused"), ...[stepText(task)].filter((p) => p !== null), task.nextRunAt ? `resumes ${until(task.nextRunAt, now)}` : "resumes with the next worker or tick");
      break;
    default:
      parts.push(colorStatus(task.status), ...(ran !== null ? [`in ${formatDuration(ran)}`] : []), ...(task.tries > 1 ? [`(try ${task.tries} of ${task.maxTries})`] : []));
  }
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
export function renderChangeLine(task: TaskRecord): string {
  const parts = [task.id, sanitizeInline(task.executor), task.status, `${Math.round(task.progress)}%`];
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
