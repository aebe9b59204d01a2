// What an executor reports (progress, message, attributes, status messages) reaches the journal
// while it runs, is clamped and checked, and costs a bounded number of journal writes.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { describeOnJournals, useProject, type Project } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

const open = (project: Project, gate: number) => writeFileSync(join(project.dir, `gate-${gate}`), "");

describeOnJournals("progress, message and attributes", () => {
  it("are seen mid-run by status --json, clamped, and the task ends at 100", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.ts": fixture("gated.ts") } });
    const id = await project.run("gated", [
      "--ctx",
      JSON.stringify({
        dir: project.dir,
        stages: [
          { progress: 1e9, message: "over the top" },
          { progress: 40, message: "copied 400 of 1000 rows", attributes: { copied: 400, source: "users.csv" }, send: { phase: "copying" } },
        ],
      }),
    ]);

    const clamped = await project.waitForTask(id, (t) => t.message === "over the top");
    expect(clamped).toMatchObject({ status: "running", progress: 100 });
    open(project, 0);

    const mid = await project.waitForTask(id, (t) => t.attributes.copied === 400 && t.attributes.phase === "copying");
    expect(mid.status).toBe("running");
    expect(mid.progress).toBeGreaterThan(0);
    expect(mid.progress).toBeLessThan(100);
    expect(mid.progress).toBe(40);
    expect(mid.message).toBe("copied 400 of 1000 rows");
    expect(mid.attributes).toEqual({ copied: 400, source: "users.csv", phase: "copying" });
    open(project, 1);

    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done).toMatchObject({ status: "succeeded", progress: 100, message: "done", attributes: { copied: 400, source: "users.csv", phase: "copying" } });
  });

  it("refuses attributes that are not JSON with a line in the task's log, and the worker carries on", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "odd.ts": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              const cycle: Record<string, unknown> = {};
              cycle.self = cycle;
              task.set({ big: 10n } as never);          // not awaited on purpose
              await task.set({ cycle });
              await task.set({ when: new Map() } as never);
              await task.progress("half" as never);
              await task.set({ fine: true });
              return { message: "still here" };
            },
          });`,
        "noop.js": fixture("noop.js"),
      },
    });
    const id = await project.run("odd");
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done).toMatchObject({ status: "succeeded", message: "still here", attributes: { fine: true } });
    const logs = await project.cli(["logs", id]);
    expect(logs.stdout).toContain("task.set() ignored: the attributes are not JSON-serialisable (attributes.big is a bigint)");
    expect(logs.stdout).toContain("(attributes.cycle.self refers back to itself)");
    expect(logs.stdout).toContain("(attributes.when is a Map, which JSON cannot hold)");
    expect(logs.stdout).toContain("task.progress() ignored: 'half' is not a number");
    // The same worker (or a fresh one) still runs the next task.
    const next = await project.run("noop");
    expect((await project.waitForTask(next, (t) => t.completed)).status).toBe("succeeded");
  });

  it("a storm of 100,000 reports finishes in seconds with a bounded number of journal writes, the last report kept", async () => {
    const reports = 100_000;
    const project = useProject(onTestFinished, {
      tasks: {
        "storm.ts": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              const n = ${reports};
              for (let i = 1; i <= n; i++) {
                await task.progress((i / n) * 99, "item " + i);
                // Wait a little now and then, as real work would: the storm lasts long enough
                // for the reporter's timer to fire many times.
                if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 15));
              }
              await task.set({ reported: n });
            },
          });`,
      },
    });
    // The journal counts its committed writes (rev): read it before and after.
    await project.cli(["list"]);
    const revBefore = project.journalRev();
    const started = Date.now();
    const id = await project.run("storm");
    const done = await project.waitForTask(id, (t) => t.completed, 60_000);
    const elapsedMs = Date.now() - started;
    const runMs = Date.parse(done.finishedAt!) - Date.parse(done.startedAt!);
    const writes = project.journalRev() - revBefore;
    console.log(`storm: ${reports} reports in ${runMs} ms of run time (${elapsedMs} ms end to end), ${writes} journal writes`);

    expect(done).toMatchObject({ status: "succeeded", progress: 100, message: `item ${reports}`, attributes: { reported: reports } });
    expect(elapsedMs).toBeLessThan(20_000);
    // enqueue + worker slot + register + claim + settle + retire, and at most one report per 250 ms interval.
    expect(writes).toBeLessThanOrEqual(8 + Math.ceil(runMs / 250) + 2);
  });
});
