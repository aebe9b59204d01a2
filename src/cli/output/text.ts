// The text primitives every view is made of: colored statuses, bars, sizes, ages, tables, and
// lines cut to the terminal's width. Pure: data in, text out, no clock (callers pass `now`).
import { formatDuration } from "../../core/duration.ts";
import { isFinal, waitingForOf, type TaskRecord, type TaskStatus } from "../../core/task.ts";
import { columns } from "./columns.ts";
import { chalk } from "./paint.ts";

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

/** "in 5m", "in <1s" or "due now": how far off `iso` is. */
export function until(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  return ms <= 0 ? "due now" : `in ${ms < 1000 ? "<1s" : formatDuration(ms)}`;
}

/**
 * What holds a task that is not running, for a person: the tasks it waits for (`run --after`), or
 * its paused queue (`bgtask pause`; not the task status "paused" of a chunked task); null when nothing does.
 */
export function holdNote(task: TaskRecord, pausedQueues: ReadonlySet<string>): string | null {
  if (isFinal(task.status) || task.status === "running") return null;
  const waiting = waitingForOf(task);
  const notes = [
    waiting.length > 0 ? `waiting for ${waiting.join(", ")}` : null,
    pausedQueues.has(task.executor) ? `queue ${task.executor} is paused` : null,
    task.pinnedHost ? `waits for a worker on host ${task.pinnedHost}` : null,
  ].filter((note) => note !== null);
  return notes.length > 0 ? notes.join("; ") : null;
}

/** One line per paused queue, under a table or a live view. */
export function pausedQueueLines(pausedQueues: ReadonlySet<string>): string[] {
  return [...pausedQueues].map((name) => `queue ${name} is paused: workers claim none of its tasks (bgtask resume ${name})`);
}
