// What tests of concurrency share: how many tries overlapped, and waiting for tasks to be final.
import type { TaskRecord } from "../../src/core/task.ts";
import { waitFor, type Project } from "./project.ts";

/** The largest number of intervals open at one instant (an end at t closes before a start at t). */
export function maxOverlap(intervals: readonly { start: number; end: number }[]): number {
  const events = intervals.flatMap((i) => [
    [i.start, 1],
    [i.end, -1],
  ]);
  events.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let max = 0;
  for (const [, delta] of events) max = Math.max(max, (open += delta!));
  return max;
}

/** Polls `list` until every one of `ids` is final; returns every task the last list showed. */
export async function waitAllFinal(project: Project, ids: readonly string[], timeoutMs = 60_000): Promise<TaskRecord[]> {
  let tasks: TaskRecord[] = [];
  await waitFor(
    async () => {
      tasks = await project.list();
      return ids.every((id) => tasks.find((t) => t.id === id)?.completed);
    },
    timeoutMs,
    () =>
      `not final: ${tasks
        .filter((t) => !t.completed)
        .map((t) => `${t.id}:${t.status}`)
        .join(" ")}`,
    200,
  );
  return tasks;
}
