// The view of `bgtask list`: one row per task.
import { isFinal, type TaskRecord } from "../../core/task.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";
import { age, colorStatus, fitWidth, holdNote, pausedQueueLines, table } from "./text.ts";

/** `workerGone`: ids of running tasks whose worker is known to have exited; `pausedQueues`: executors whose queue is paused. */
export function renderList(
  tasks: readonly TaskRecord[],
  now: Date,
  workerGone: ReadonlySet<string> = new Set(),
  pausedQueues: ReadonlySet<string> = new Set(),
): string {
  const paused = pausedQueueLines(pausedQueues);
  if (tasks.length === 0) return ["no tasks", ...paused].join("\n");
  const rows = table(
    // AGE counts from creation, ENDED from the finish, which is what `remove --older-than` counts.
    ["ID", "EXECUTOR", "STATUS", "PROGRESS", "TRIES", "AGE", "ENDED", "MESSAGE"],
    tasks.map((t) => [
      t.id,
      sanitizeInline(t.executor),
      workerGone.has(t.id)
        ? `${colorStatus(t.status)} ${chalk.red("(worker gone)")}`
        : pausedQueues.has(t.executor) && !isFinal(t.status) && t.status !== "running"
          ? `${colorStatus(t.status)} ${chalk.yellow("(queue paused)")}`
          : colorStatus(t.status),
      `${Math.round(t.progress)}%`,
      `${t.tries}/${t.maxTries}`,
      age(t.createdAt, now),
      age(t.finishedAt, now),
      fitWidth(sanitizeInline(t.message ?? t.error?.message ?? holdNote(t, new Set()) ?? ""), 60),
    ]),
  );
  return [rows, ...paused].join("\n");
}
