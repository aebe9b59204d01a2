// A task's life through the real CLI and a real detached worker.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

describeOnJournals("run → detached worker → succeeded", () => {
  it("runs a task after `run` has exited; list and status follow it to the end", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "greet.ts": `
          import { defineTask } from "bgtask";
          import { existsSync } from "node:fs";
          export default defineTask<{ name: string; gate: string }>({
            async run(task) {
              console.log("greeting " + task.context.name);
              console.error("to stderr");
              task.log("via task.log", { n: 1 });
              // Holds until the test opens the gate, so the test sees it running whatever the load.
              while (!existsSync(task.context.gate)) await new Promise((r) => setTimeout(r, 20));
              return { message: "greeted " + task.context.name, result: { greeted: task.context.name } };
            },
          });`,
      },
    });
    const gate = join(project.dir, "gate");
    const run = await project.cli(["run", "greet", "name=Ada", `gate=${gate}`]);
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^\d+$/);
    // `run` has exited while its task cannot have ended: the work is the detached worker's.
    expect((await project.status(id)).completed).toBe(false);

    const running = await project.waitForTask(id, (t) => t.status === "running");
    expect(running.worker?.pid).toBeGreaterThan(0);
    expect(running.worker?.host).toBeTruthy();
    expect(project.workers()).toContain(running.worker!.pid);
    writeFileSync(gate, "");

    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done).toMatchObject({
      status: "succeeded",
      message: "greeted Ada",
      result: { greeted: "Ada" },
      context: { name: "Ada", gate },
      tries: 1,
      progress: 100,
      completed: true,
    });
    const listed = await project.list();
    expect(listed.map((t) => [t.id, t.status])).toEqual([[id, "succeeded"]]);

    const status = await project.cli(["status", id]);
    expect(status.stdout).toContain("succeeded");
    expect(status.stdout).toContain("greeting Ada");
    expect(status.stdout).toContain("to stderr");
    expect(status.stdout).toContain("via task.log { n: 1 }");

    // The worker leaves after its idle window.
    await waitFor(
      () => project.workers().length === 0,
      10_000,
      () => "worker still alive",
    );
  });

  it("`run --follow` waits and exits 0 on success, 1 on failure", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "noop.js": fixture("noop.js"),
        "boom.js": `import { defineTask } from "bgtask"; export default defineTask({ run() { throw new Error("boom"); } });`,
      },
    });
    const ok = await project.cli(["run", "noop", "--follow"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/succeeded 100% nothing done/);
    const bad = await project.cli(["run", "boom", "--follow"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/failed .*boom/);
  });
});
