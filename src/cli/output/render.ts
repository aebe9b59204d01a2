// Pure formatting: data in, text out. No I/O and no clock (callers pass `now`), so every view
// can be checked by unit tests. All untrusted text passes through sanitize here.
import chalk from "chalk";
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

// eslint-disable-next-line no-control-regex
const visibleLength = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").length;

function truncate(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
}

export function progressBar(percent: number, width = 20): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** Columns padded to the widest cell; the last column is left ragged. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat(widths[i]! - visibleLength(cell))))
      .join("  ")
      .trimEnd();
  return [line(headers.map((h) => chalk.bold(h))), ...rows.map(line)].join("\n");
}

export function age(iso: string | null, now: Date): string {
  if (!iso) return "-";
  return formatDuration(Math.max(0, now.getTime() - Date.parse(iso)));
}

export function renderList(tasks: readonly TaskRecord[], now: Date): string {
  if (tasks.length === 0) return "no tasks";
  return table(
    ["ID", "EXECUTOR", "STATUS", "PROGRESS", "TRIES", "AGE", "MESSAGE"],
    tasks.map((t) => [
      t.id,
      sanitizeInline(t.executor),
      colorStatus(t.status),
      `${Math.round(t.progress)}%`,
      `${t.tries}/${t.maxTries}`,
      age(t.createdAt, now),
      truncate(sanitizeInline(t.message ?? t.error?.message ?? ""), 60),
    ]),
  );
}

function field(label: string, value: string): string {
  return `${chalk.bold(label.padEnd(11))} ${value}`;
}

function indent(text: string, by = "  "): string {
  return text
    .split("\n")
    .map((line) => by + line)
    .join("\n");
}

export function renderStatus(task: TaskRecord, now: Date, logTail: readonly string[]): string {
  const out: string[] = [];
  out.push(field("task", `${task.id} ${chalk.dim("·")} ${sanitizeInline(task.executor)}`));
  out.push(field("status", colorStatus(task.status)));
  out.push(field("progress", `${progressBar(task.progress)} ${Math.round(task.progress)}%`));
  if (task.message) out.push(field("message", sanitizeInline(task.message)));
  if (task.step) out.push(field("step", `${task.step.index + 1}/${task.step.count} ${sanitizeInline(task.step.name)}`));
  out.push(field("tries", `${task.tries} of ${task.maxTries} (${task.remainingTries} remaining)`));
  out.push(field("created", `${task.createdAt} (${age(task.createdAt, now)} ago)`));
  if (task.startedAt) out.push(field("started", task.startedAt));
  if (task.finishedAt) out.push(field("finished", task.finishedAt));
  if (task.nextRunAt) out.push(field("next run", `${task.nextRunAt} (in ${formatDuration(Math.max(0, Date.parse(task.nextRunAt) - now.getTime()))})`));
  if (task.worker) out.push(field("worker", `pid ${task.worker.pid} on ${sanitizeInline(task.worker.host)}`));
  out.push(field("context", sanitizeInline(JSON.stringify(task.context))));
  const attributes = Object.entries(task.attributes);
  if (attributes.length > 0) {
    out.push(chalk.bold("attributes"));
    out.push(indent(table(["NAME", "VALUE"], attributes.map(([k, v]) => [sanitizeInline(k), sanitizeInline(JSON.stringify(v))]))));
  }
  if (task.result !== null && task.result !== undefined) out.push(field("result", sanitizeInline(JSON.stringify(task.result))));
  if (task.attachments.length > 0) {
    out.push(chalk.bold("attachments"));
    out.push(indent(table(["NAME", "SIZE", "PATH"], task.attachments.map((a) => [sanitizeInline(a.name), `${a.size} B`, a.path]))));
  }
  if (task.error) {
    out.push(chalk.bold("error") + (task.error.where ? chalk.dim(` at ${sanitizeInline(task.error.where)}`) : ""));
    out.push(indent(chalk.red(sanitize(task.error.stack ?? task.error.message))));
  }
  const failedTries = task.history.filter((h) => h.error !== null);
  if (failedTries.length > 1) {
    out.push(chalk.bold("failed tries"));
    for (const h of failedTries) out.push(indent(`try ${h.try}: ${sanitizeInline(h.error!.message)}${h.error!.where ? ` (${sanitizeInline(h.error!.where)})` : ""}`));
  }
  if (logTail.length > 0) {
    out.push(chalk.bold("log (last lines)"));
    out.push(indent(logTail.map((l) => sanitizeInline(l)).join("\n")));
  }
  return out.join("\n");
}

/** One plain line for a change of a followed task (no TTY tricks). */
export function renderChangeLine(task: TaskRecord): string {
  const parts = [task.id, task.status, `${Math.round(task.progress)}%`];
  if (task.step) parts.push(`step ${task.step.index + 1}/${task.step.count} ${sanitizeInline(task.step.name)}`);
  const message = task.message ?? (task.status === "failed" ? task.error?.message : null);
  if (message) parts.push(sanitizeInline(message));
  return parts.join(" ");
}
