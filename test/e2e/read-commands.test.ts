// `bgtask stats`, `bgtask workers` and `bgtask attachment get`: the client layer's read commands,
// on real tasks run by real workers; and their bad input (exit 2, one sentence, nothing written).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { useProject } from "../helpers/project.ts";
import { runInPty } from "../helpers/pty.ts";

const REPORT = `
  import { defineTask } from "bgtask";
  export default defineTask({
    async run(task) {
      await task.attach("report.csv", "id,name\\n1,Ada\\n");
      await task.attach("blob.bin", new Uint8Array([0, 1, 2, 255, 10, 13]));
      return { message: "reported" };
    },
  });`;

describe("stats, workers and attachment get", () => {
  it("stats counts tasks by status and executor, the oldest queued one and the last minutes' throughput; workers shows the live one with its task", async () => {
    const project = useProject(onTestFinished, { tasks: { "report.ts": REPORT, "gated.ts": fixture("gated.ts") } });
    const done = await project.run("report");
    await project.waitForTask(done, (t) => t.status === "succeeded");
    const gated = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{ progress: 30, message: "working" }] })]);
    await project.waitForTask(gated, (t) => t.progress === 30);
    const queued = await project.run("report", ["--no-worker", "--delay", "1h"]);

    const stats = JSON.parse((await project.cli(["stats", "--json"])).stdout);
    expect(stats.byStatus).toEqual({ succeeded: 1, running: 1, scheduled: 1 });
    expect(stats.byExecutor).toEqual({ report: { succeeded: 1, scheduled: 1 }, gated: { running: 1 } });
    expect(stats.oldestQueued).toBeNull();
    expect(stats.throughput.minutes).toBe(15);
    expect(stats.throughput.perMinute).toHaveLength(15);
    expect(stats.throughput.perMinute.reduce((a: number, b: number) => a + b, 0)).toBe(1);
    expect(stats.liveWorkers).toBeGreaterThanOrEqual(1);

    const text = await project.cli(["stats"]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^3 tasks: 1 scheduled, 1 running, 1 succeeded$/m);
    expect(text.stdout).toMatch(/^report\s+1\s+0\s+1$/m);

    const workers = JSON.parse((await project.cli(["workers", "--json"])).stdout);
    const busy = workers.find((w: { task: { id: string } | null }) => w.task?.id === gated);
    expect(busy).toMatchObject({
      state: "alive",
      pid: expect.any(Number),
      host: expect.any(String),
      task: { executor: "gated", progress: 30, message: "working" },
    });
    expect(Date.parse(busy.lastHeartbeatAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await project.cli(["workers"])).stdout).toMatch(new RegExp(`alive\\s+${gated} gated 30%`));
    expect(queued).toBeDefined();
  });

  it("attachment get writes the bytes to --output or to stdout as they are, and refuses unknown tasks and names", async () => {
    const project = useProject(onTestFinished, { tasks: { "report.ts": REPORT } });
    const id = await project.run("report");
    await project.waitForTask(id, (t) => t.status === "succeeded");
    const out = join(project.dir, "copy.bin");
    const written = await project.cli(["attachment", "get", id, "blob.bin", "--output", out]);
    expect(written).toMatchObject({ code: 0, stdout: "" });
    expect([...readFileSync(out)]).toEqual([0, 1, 2, 255, 10, 13]);
    const piped = await project.cli(["attachment", "get", id, "report.csv"], { stripFinalNewline: false });
    expect(piped).toMatchObject({ code: 0, stdout: "id,name\n1,Ada\n" });

    const missingName = await project.cli(["attachment", "get", id, "nope.txt"]);
    expect(missingName).toMatchObject({ code: 2, stdout: "" });
    expect(missingName.stderr).toBe(`bgtask: task ${id} has no attachment named "nope.txt"; it has "report.csv", "blob.bin"`);
    const missingTask = await project.cli(["attachment", "get", "999", "report.csv"]);
    expect(missingTask.code).toBe(2);
    expect(missingTask.stderr).toMatch(/^bgtask: no task with id "999"/);
    const badId = await project.cli(["attachment", "get", "../etc", "passwd"]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/is not a task id/);
    const badOutput = await project.cli(["attachment", "get", id, "report.csv", "--output", join(project.dir, "no/such/dir/x")]);
    expect(badOutput.code).toBe(2);
    expect(badOutput.stderr).toMatch(/^bgtask: cannot write .*no\/such\/dir\/x \(ENOENT\); check that its folder exists/);
  });

  it("attachment get refuses to write to a terminal, with a sentence", async () => {
    const project = useProject(onTestFinished, { tasks: { "report.ts": REPORT } });
    const id = await project.run("report");
    await project.waitForTask(id, (t) => t.status === "succeeded");
    const pty = runInPty(project, ["attachment", "get", id, "blob.bin"], onTestFinished);
    expect(await pty.exited).toBe(2);
    expect(pty.output()).toMatch(/attachment "blob\.bin" is not written to a terminal: give --output FILE/);
  });

  it("stats and workers on an empty project say so; a stats in a project with no journal writes none", async () => {
    const project = useProject(onTestFinished);
    const stats = await project.cli(["stats"]);
    expect(stats).toMatchObject({ code: 0 });
    expect(stats.stdout).toMatch(/^no tasks\noldest queued: none$/m);
    expect((await project.cli(["workers"])).stdout).toBe("no workers");
    expect(existsSync(join(project.home, "journal.json"))).toBe(false);
  });
});
