// `bgtask wait <id…> [--timeout] [--json]`: quiet until every task is final, then an exit code a
// script can branch on: 0 all succeeded, 1 one failed or was cancelled, 124 the timeout came
// first, 2 for ids that are not tasks. A worker killed under it does not make it hang.
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, alive, BIN, useProject, waitFor, type Project } from "../helpers/project.ts";

const FAILS = `import { defineTask } from "bgtask"; export default defineTask({ run() { throw new Error("broken on purpose"); } });`;

// Try 1 runs until its worker is killed; later tries end at once.
const HANGS_ONCE = `
  import { defineTask } from "bgtask";
  export default defineTask({
    retry: { tries: 1, interval: "0s" },
    run: (task) => (task.tries === 1 ? new Promise(() => {}) : { message: "done by try " + task.tries }),
  });`;

/** `bgtask <args>` in the background, with a deadline: a wait that hangs fails the test instead. */
function background(project: Project, args: string[]) {
  return execa(process.execPath, [BIN, ...args], { cwd: project.dir, env: project.env, reject: false, timeout: 25_000 });
}

function tasks() {
  return { "noop.js": fixture("noop.js"), "gated.ts": fixture("gated.ts"), "fails.js": FAILS };
}

describeOnJournals("bgtask wait", () => {
  it("exits 0 when every task succeeded, printing nothing; --json prints the final records", async () => {
    const project = useProject(onTestFinished, { tasks: tasks() });
    const a = await project.run("noop");
    const b = await project.run("noop");
    const waited = await project.cli(["wait", a, b]);
    expect(waited).toEqual({ code: 0, stdout: "", stderr: "" });

    const one = await project.cli(["wait", a, "--json"]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ id: a, status: "succeeded", completed: true });
    expect(JSON.parse(one.stdout)).not.toHaveProperty("lease");
    const both = await project.cli(["wait", b, a, b, "--json"]);
    expect((JSON.parse(both.stdout) as TaskRecord[]).map((t) => [t.id, t.status])).toEqual([
      [b, "succeeded"],
      [a, "succeeded"],
    ]);
  });

  it("waits for a task still running, and exits 1 when one failed", async () => {
    const project = useProject(onTestFinished, { tasks: tasks(), config: { concurrency: 2 } });
    const gated = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{ progress: 10 }] })]);
    const failed = await project.run("fails");
    await project.waitForTask(gated, (t) => t.status === "running");
    const waiting = background(project, ["wait", gated, failed, "--json"]);
    await project.waitForTask(failed, (t) => t.status === "failed");
    // Still waiting: one task is not final yet.
    expect(waiting.exitCode).toBeNull();
    writeFileSync(join(project.dir, "gate-0"), "");
    const waited = await waiting;
    expect(waited.timedOut).toBe(false);
    expect(waited.exitCode, waited.stderr).toBe(1);
    expect((JSON.parse(waited.stdout) as TaskRecord[]).map((t) => t.status)).toEqual(["succeeded", "failed"]);
  });

  it("exits 1 when a task was cancelled", async () => {
    const project = useProject(onTestFinished, { tasks: tasks() });
    const id = await project.run("noop", ["--delay", "1h"]);
    expect((await project.cli(["cancel", id])).code).toBe(0);
    expect(await project.cli(["wait", id])).toMatchObject({ code: 1, stdout: "" });
  });

  it("exits 124 when the timeout comes first, saying which tasks are not final; they keep running", async () => {
    const project = useProject(onTestFinished, { tasks: tasks() });
    const id = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{}] })]);
    const started = Date.now();
    const waited = await project.cli(["wait", id, "--timeout", "1s"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(waited.code).toBe(124);
    expect(waited.stdout).toBe("");
    expect(waited.stderr).toBe(`bgtask: task ${id} is still not final after 1s; it keeps running (\`bgtask status\` shows it)`);
    const json = await project.cli(["wait", id, "--timeout", "500ms", "--json"]);
    expect(json.code).toBe(124);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "ETIMEOUT", message: expect.stringContaining(`task ${id} is still not final`) } });
    expect((await project.status(id)).status).not.toMatch(/succeeded|failed|cancelled/);
    writeFileSync(join(project.dir, "gate-0"), "");
    expect((await project.cli(["wait", id, "--timeout", "30s"])).code).toBe(0);
  });

  it("refuses ids that are not tasks and a bad timeout with exit 2, one sentence, and changes nothing", async () => {
    const project = useProject(onTestFinished, { tasks: tasks() });
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.completed);
    // The worker writes once more as it exits: after that, nothing but a command would.
    await waitFor(
      () => project.workers().length === 0,
      15_000,
      () => `workers still running: ${project.workers().join(", ")}`,
    );
    const before = project.journalBytes();
    const bad = await project.cli(["wait", "x1"]);
    expect(bad).toMatchObject({ code: 2, stdout: "" });
    expect(bad.stderr).toBe('bgtask: "x1" is not a task id: ids are numbers like 42, as `bgtask list` shows them');
    const unknown = await project.cli(["wait", id, "999", "--json"]);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout)).toEqual({ error: { code: "ENOTASK", message: 'no task with id "999"; `bgtask list` shows the tasks there are' } });
    const timeout = await project.cli(["wait", id, "--timeout", "10"]);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toBe('bgtask: --timeout "10" has no unit: write 10s for seconds (units: ms, s, m, h, d, w)');
    expect((await project.cli(["wait"])).code).toBe(2);
    expect(project.journalBytes()).toEqual(before);
  });

  it("does not hang on a task whose worker was killed: the try is recovered and a new worker finishes it", async () => {
    const project = useProject(onTestFinished, { tasks: { "hangs.js": HANGS_ONCE } });
    const id = await project.run("hangs");
    const pid = (await project.waitForTask(id, (t) => t.status === "running")).worker!.pid;
    process.kill(pid, "SIGKILL");
    await waitFor(
      () => !alive(pid),
      10_000,
      () => `worker ${pid} still alive`,
    );

    const waited = await background(project, ["wait", id, "--json"]);
    expect(waited.timedOut).toBe(false);
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(waited.stderr).toBe(`the worker running ${id} (pid ${pid}) is gone; its try was recovered`);
    expect(JSON.parse(waited.stdout)).toMatchObject({ status: "succeeded", tries: 2, message: "done by try 2" });
  });

  it('says why nothing will come when workers are off ("worker": false), and ends when a tick runs the task', async () => {
    const project = useProject(onTestFinished, { tasks: tasks(), config: { worker: false } });
    const id = await project.run("noop");
    const waiting = background(project, ["wait", id]);
    let stderr = "";
    waiting.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(
      () => stderr.includes(`${id} waits for a tick or a worker: workers are off in this project`),
      15_000,
      () => stderr,
    );
    expect((await project.cli(["tick"])).code).toBe(0);
    const waited = await waiting;
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(waited.stdout).toBe("");
  });
});
