// The view of `bgtask status`: one task in full.
import type { LogLine } from "../../core/log-line.ts";
import type { TaskRecord } from "../../core/task.ts";
import { renderLogLines } from "./logs.ts";
import { chalk } from "./paint.ts";
import { sanitize, sanitizeInline } from "./sanitize.ts";
import { age, colorStatus, formatBytes, holdNote, progressBar, table, until } from "./text.ts";

/** An attribute value for a table cell: strings as they are, anything else as JSON. */
function attributeValue(value: unknown): string {
  return sanitizeInline(typeof value === "string" ? value : (JSON.stringify(value) ?? String(value)));
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
  /** The recorded worker is known to have exited (see workerGone in client/follow.ts). */
  workerGone?: boolean;
  /** Why nothing will start this waiting task (see client/tick-budget.ts). */
  notRun?: string;
  /** Executors whose queue is paused (`bgtask pause`). */
  pausedQueues?: ReadonlySet<string>;
  /** The running try's worker slot and that worker's tries now (see client/details.ts). */
  place?: { slot: string; running: number } | null;
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
  const held = holdNote(task, options.pausedQueues ?? new Set());
  out.push(field("status", colorStatus(task.status) + (held ? chalk.yellow(` (${held})`) : "")));
  out.push(field("progress", `${progressBar(task.progress)} ${Math.round(task.progress)}%`));
  if (task.message) out.push(field("message", sanitizeInline(task.message)));
  if (task.step) out.push(field("step", `${task.step.index + 1}/${task.step.count} ${sanitizeInline(task.step.name)}`));
  out.push(field("tries", triesText(task)));
  out.push(field("created", `${task.createdAt} (${age(task.createdAt, now)} ago)`));
  if (task.schedule) out.push(field("schedule", `${sanitizeInline(task.schedule.name)}, slot ${task.schedule.slot}`));
  if (task.startedAt) out.push(field("started", task.startedAt));
  if (task.finishedAt) out.push(field("finished", `${task.finishedAt}${task.startedAt ? ` (took ${age(task.startedAt, new Date(task.finishedAt))})` : ""}`));
  if (task.nextRunAt) out.push(field("next run", `${task.nextRunAt} (${until(task.nextRunAt, now)})`));
  if (options.notRun) out.push(field("not run", chalk.red(sanitizeInline(options.notRun))));
  if (task.priority) out.push(field("priority", String(task.priority)));
  if (task.key) out.push(field("key", sanitizeInline(task.key)));
  if (task.after && task.after.length > 0) out.push(field("after", task.after.join(", ")));
  if (task.pinnedHost) out.push(field("on host", `${task.pinnedHost} (only its workers claim this task)`));
  if (task.worker) {
    const gone = options.workerGone ? chalk.red(" — gone: that process has exited; the next worker, tick or `bgtask watch` recovers this try") : "";
    const place = options.place
      ? `, slot ${sanitizeInline(options.place.slot)} (its ${options.place.running === 1 ? "only try" : `${options.place.running} tries`} now)`
      : "";
    out.push(field("worker", `pid ${task.worker.pid} on ${sanitizeInline(task.worker.host)}${place}${gone}`));
  }
  if (task.timeoutAt) out.push(field("times out", `${task.timeoutAt}${Date.parse(task.timeoutAt) <= now.getTime() ? " (passed)" : ""}`));
  if (task.cancelRequestedAt) out.push(field("cancel", `requested at ${task.cancelRequestedAt}; waiting for the task to stop`));
  out.push(field("context", sanitizeInline(JSON.stringify(task.context))));
  const attributes = Object.entries(task.attributes);
  if (attributes.length > 0) {
    out.push(chalk.bold("attributes"));
    out.push(
      indent(
        table(
          ["NAME", "VALUE"],
          attributes.map(([k, v]) => [sanitizeInline(k), attributeValue(v)]),
        ),
      ),
    );
  }
  if (task.result !== null && task.result !== undefined) out.push(field("result", sanitizeInline(JSON.stringify(task.result))));
  if (task.attachments.length > 0) {
    out.push(chalk.bold("attachments"));
    out.push(
      indent(
        table(
          ["NAME", "SIZE", "PATH"],
          task.attachments.map((a) => [sanitizeInline(a.name), formatBytes(a.size), sanitizeInline(a.path)]),
        ),
      ),
    );
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
