// Reading what schedules fired, for the suites that drive them through the built binary.
import { expect } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { waitFor, type Project } from "./project.ts";

/** A cron expression firing every 2 seconds. */
export const EVERY_2S = "*/2 * * * * *";

/** The slots the scheduled tasks among `tasks` were fired for, sorted. */
export function scheduled(tasks: readonly TaskRecord[]): string[] {
  return tasks
    .filter((t) => t.schedule)
    .map((t) => t.schedule!.slot)
    .sort();
}

/** Runs `bgtask tick` back to back until a schedule has fired a task. */
export async function tickUntilFired(project: Project): Promise<void> {
  await waitFor(async () => {
    expect((await project.cli(["tick"])).code).toBe(0);
    return scheduled(await project.list()).length > 0;
  }, 20_000);
}
