// `run --delay` and `--at` create scheduled tasks that run on time with no cron: the worker `run`
// starts sleeps until they are due.
import { expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { describeOnJournals, useProject } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

describeOnJournals("delays", () => {
  it("a task with --delay 2s (and one --at a time) runs once due, with no tick", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const acknowledged = await project.cli(["run", "noop", "--delay", "2s", "--json"]);
    expect(acknowledged.code).toBe(0);
    const scheduled = JSON.parse(acknowledged.stdout) as TaskRecord;
    expect(scheduled).toMatchObject({ status: "scheduled", tries: 0 });
    expect(Date.parse(scheduled.nextRunAt!) - Date.parse(scheduled.createdAt)).toBe(2_000);
    // `run` started a worker for it, which sleeps until it is due (longer than its idle window).
    expect(project.workers().length).toBeGreaterThan(0);
    const delayed = scheduled.id;
    const at = new Date(Date.now() + 1_000);
    const timed = await project.run("noop", ["--at", at.toISOString()]);

    const done = await project.waitForTask(delayed, (t) => t.completed, 20_000);
    expect(done).toMatchObject({ status: "succeeded", tries: 1 });
    expect(Date.parse(done.startedAt!) - Date.parse(done.createdAt)).toBeGreaterThanOrEqual(2_000);
    const doneAt = await project.waitForTask(timed, (t) => t.completed);
    expect(doneAt.status).toBe("succeeded");
    expect(Date.parse(doneAt.startedAt!)).toBeGreaterThanOrEqual(at.getTime());
  });
});
