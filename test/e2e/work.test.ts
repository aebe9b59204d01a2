// `bgtask work` in a real terminal (util-linux `script`): foreground workers print which task
// starts and ends and the task's own lines; --once drains and exits 0; SIGTERM lets the current
// try finish, then exits 0; --executor claims only those executors.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { useProject, waitFor, type Project } from "../helpers/project.ts";
import { hasScript, runInPty } from "../helpers/pty.ts";

const tasks = { "noop.js": fixture("noop.js"), "gated.ts": fixture("gated.ts"), "slow.ts": fixture("slow.ts") };

/** The pid of this project's `bgtask work` process (the CLI, not its workers). */
function workPid(project: Project): number | undefined {
  return project.processes().find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("work");
    } catch {
      return false;
    }
  });
}

describe.runIf(hasScript())("bgtask work in a terminal", () => {
  it("shows each task starting, its printed lines and its end; --once exits 0 once the queue is drained", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, { tasks });
    const ids = [
      await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir, stages: [{ print: "hello from the task" }] })]),
      await project.run("noop", ["--no-worker"]),
    ];
    writeFileSync(join(project.dir, "gate-0"), "");
    const pty = runInPty(project, ["work", "--once", "--concurrency", "2"], onTestFinished);
    expect(await pty.exited).toBe(0);
    const output = pty.output();
    expect(output).toMatch(new RegExp(`task ${ids[0]} \\(gated\\) started, try 1`));
    expect(output).toMatch(new RegExp(`task ${ids[0]} .*\\[try 1\\] stdout +\\| hello from the task`));
    expect(output).toMatch(new RegExp(`task ${ids[0]} \\(gated\\) succeeded: done`));
    expect(output).toMatch(new RegExp(`task ${ids[1]} \\(noop\\) succeeded: nothing done`));
    for (const id of ids) expect((await project.status(id)).status).toBe("succeeded");
    expect(project.workers()).toEqual([]);
  });

  it("SIGTERM stops it cleanly: the current try finishes, then it exits 0", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, { tasks, env: { BGTASK_GRACE: "30s" } });
    const pty = runInPty(project, ["work", "--concurrency", "1"], onTestFinished);
    const id = await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir, stages: [{ print: "waiting at the gate" }] })]);
    await pty.waitForOutput(/waiting at the gate/);
    process.kill(workPid(project)!, "SIGTERM");
    await pty.waitForOutput(/claiming nothing more, letting the current try finish/);
    // Still running its try: the stop waits for it.
    expect((await project.status(id)).status).toBe("running");
    writeFileSync(join(project.dir, "gate-0"), "");
    expect(await pty.exited).toBe(0);
    expect(await project.status(id)).toMatchObject({ status: "succeeded", tries: 1 });
    expect(pty.output()).toMatch(new RegExp(`task ${id} \\(gated\\) succeeded`));
    expect(project.workers()).toEqual([]);
  });

  it("Ctrl-C stops it the same way, once", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, { tasks, env: { BGTASK_GRACE: "30s" } });
    const pty = runInPty(project, ["work", "--concurrency", "1"], onTestFinished);
    const id = await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir, stages: [{ print: "at the gate" }] })]);
    await pty.waitForOutput(/at the gate/);
    pty.type("\x03");
    await pty.waitForOutput(/claiming nothing more/);
    writeFileSync(join(project.dir, "gate-0"), "");
    expect(await pty.exited).toBe(0);
    expect(await project.status(id)).toMatchObject({ status: "succeeded", tries: 1 });
  });
});

describe("bgtask work without a terminal (a container's)", () => {
  it("replaces a worker that is killed under it, and still stops cleanly on SIGTERM", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, { tasks });
    const running = project.cli(["work", "--concurrency", "1"], { env: { BGTASK_ROOT: project.dir } });
    await waitFor(() => project.workers().length === 1 && workPid(project) !== undefined, 20_000);
    const [first] = project.workers();
    process.kill(first!, "SIGKILL");
    await waitFor(
      () => project.workers().length === 1 && project.workers()[0] !== first,
      20_000,
      () => `workers: ${project.workers().join(",")}`,
    );
    // The new one works: it runs a task stored now.
    const id = await project.run("noop", ["--no-worker"]);
    await project.waitForTask(id, (t) => t.status === "succeeded");
    process.kill(workPid(project)!, "SIGTERM");
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`bgtask: worker ${first} exited \\(SIGKILL\\); starting another`));
    expect(project.workers()).toEqual([]);
  });
});

describe("bgtask work --executor", () => {
  it("claims only tasks of the executors named; the others stay queued", { timeout: 60_000 }, async () => {
    const project = useProject(onTestFinished, { tasks });
    const noop = await project.run("noop", ["--no-worker"]);
    const slow = await project.run("slow", ["--no-worker", "ms=10"]);
    const result = await project.cli(["work", "--once", "--executor", "noop"]);
    expect(result.code, result.stderr).toBe(0);
    expect((await project.status(noop)).status).toBe("succeeded");
    expect((await project.status(slow)).status).toBe("queued");
    const both = await project.cli(["work", "--once", "--executor", "noop,slow"]);
    expect(both.code, both.stderr).toBe(0);
    expect((await project.status(slow)).status).toBe("succeeded");
  });

  it("refuses an unknown executor and a bad concurrency with exit 2, one sentence, nothing written", async () => {
    const project = useProject(onTestFinished, { tasks });
    for (const [args, says] of [
      [["work", "--executor", "nope"], /^bgtask: no executor "nope"/],
      [["work", "--concurrency", "0"], /^bgtask: --concurrency 0 is not a whole number from 1 to 10000/],
      [["work", "--concurrency", "two"], /^bgtask: --concurrency "two" is not a whole number from 1 to 10000/],
      [["work", "--workers", "0"], /^bgtask: --workers 0 is not a whole number from 1 to 256/],
    ] as const) {
      const result = await project.cli([...args]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(says);
    }
    expect(existsSync(project.journalPath)).toBe(false);
    await waitFor(() => project.workers().length === 0, 5_000);
  });
});
