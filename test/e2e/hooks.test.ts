// Completion hooks through real workers: the config's command for a final status gets the final
// record as JSON on stdin; an executor's onFinish runs after the status is recorded; what either
// does wrong is logged, and the task keeps its status.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";

const writeStdinTo = "require('node:fs').writeFileSync(process.argv[1], require('node:fs').readFileSync(0))";

const finisher = `
import { appendFileSync } from "node:fs";
import { defineTask } from "bgtask";

export default defineTask({
  async run(task) {
    if (task.context.fail) throw new Error("failing on purpose");
    return { message: "finished", result: { n: 1 } };
  },
  onFinish(task) {
    appendFileSync(task.context.marker, task.status + " " + task.completed + "\\n");
    if (task.context.breakHook) throw new Error("onFinish broke for " + task.id);
  },
});
`;

describeOnJournals("completion hooks", () => {
  it("a hook command receives the final record on stdin; onFinish runs with the final record", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, {
      tasks: { "finisher.js": finisher },
      config: { hooks: { succeeded: [process.execPath, "-e", writeStdinTo, "succeeded.json"] } },
    });
    const marker = join(project.dir, "marker.txt");
    const id = await project.run("finisher", [`marker=${marker}`]);
    await project.waitForTask(id, (t) => t.status === "succeeded");
    const hookFile = join(project.dir, "succeeded.json");
    await waitFor(() => existsSync(hookFile) && readFileSync(hookFile, "utf8").endsWith("}"), 20_000);
    const record = JSON.parse(readFileSync(hookFile, "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({ id, executor: "finisher", status: "succeeded", completed: true, message: "finished", result: { n: 1 }, tries: 1 });
    expect(record).not.toHaveProperty("lease");
    await waitFor(() => existsSync(marker), 20_000);
    expect(readFileSync(marker, "utf8")).toBe("succeeded true\n");
  });

  it("an onFinish that throws and a hook command that fails are logged; the task keeps its status", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, {
      tasks: { "finisher.js": finisher, "noop.js": fixture("noop.js") },
      config: { hooks: { failed: [process.execPath, "-e", "process.exit(3)"] } },
    });
    const marker = join(project.dir, "marker.txt");
    const id = await project.run("finisher", [`marker=${marker}`, "breakHook=true", "fail=true"]);
    await project.waitForTask(id, (t) => t.status === "failed");
    let logs = "";
    await waitFor(
      async () => {
        logs = (await project.cli(["logs", id])).stdout;
        return logs.includes("onFinish() threw") && logs.includes("hook");
      },
      20_000,
      () => logs,
    );
    expect(logs).toContain(`onFinish() threw: onFinish broke for ${id}`);
    expect(logs).toMatch(/the failed hook \[.*\] failed: it exited with code 3/);
    expect(readFileSync(marker, "utf8")).toBe("failed true\n");
    expect(await project.status(id)).toMatchObject({ status: "failed", message: "failing on purpose" });
    // The worker goes on: the next task runs.
    const next = await project.run("noop");
    await project.waitForTask(next, (t) => t.status === "succeeded");
  });
});
