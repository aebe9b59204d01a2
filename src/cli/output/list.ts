// The view of `bgtask list`: one row per task.
import type { TaskRecord } from "../../core/task.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";
import { age, colorStatus, fitWidth, table } from "./text.ts";

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
