// A worker killed with SIGKILL writes nothing more, so only its readers can notice: `status` and
// `list` say at once that it is gone, and `watch` does not wait for it: it recovers the try, then
// starts a worker when workers are allowed, or says that the task waits for a tick.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { describeOnJournals, alive, BIN, useProject, waitFor, type Project } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

// Try 1 runs until it is killed or aborted; later tries end at once.
const HANGS_ONCE = `
  import { defineTask } from "bgtask";
  export default defineTask({
    retry: { tries: 1, interval: "0s" },
    run: (task) => task.tries === 1
      ? new Promise((_, reject) => task.signal.addEventListener("abort", () => reject(new Error(String(task.signal.reason)))))
      : { message: "done by try " + task.tries },
  });`;

async function killWorkerOf(project: Project, id: string): Promise<number> {
  const running = await project.waitForTask(id, (t) => t.status === "running");
  const pid = running.worker!.pid;
  process.kill(pid, "SIGKILL");
  await waitFor(
    () => !alive(pid),
    10_000,
    () => `worker ${pid} still alive`,
  );
  return pid;
}

/** `bgtask <args>` in the background, with a deadline: a watch that hangs fails the test instead. */
function background(project: Project, args: string[]) {
  return execa(process.execPath, [BIN, ...args], { cwd: project.dir, env: project.env, reject: false, timeout: 25_000 });
}

describeOnJournals("a worker killed with SIGKILL", () => {
  it("status and list say at once that it is gone; watch recovers its try and a new worker finishes the task", async () => {
    const project = useProject(onTestFinished, { tasks: { "hangs.js": HANGS_ONCE.replace("retry:", 'timeout: "3s", retry:') } });
    const id = await project.run("hangs");
    const pid = await killWorkerOf(project, id);

    const status = await project.cli(["status", id]);
    expect(status.stdout).toMatch(new RegExp(`worker +pid ${pid} on .+ — gone: that process has exited`));
    // Nothing stopped it at its timeout, since nothing runs it: status says the time has passed.
    const { timeoutAt } = await project.status(id);
    await waitFor(() => Date.now() > Date.parse(timeoutAt!), 10_000);
    expect((await project.cli(["status", id])).stdout).toMatch(new RegExp(`^times out +${timeoutAt} \\(passed\\)$`, "m"));
    expect((await project.cli(["list"])).stdout).toMatch(new RegExp(`^${id} +hangs +running \\(worker gone\\)`, "m"));

    const watched = await background(project, ["watch", id]);
    expect(watched.timedOut).toBe(false);
    expect(watched.exitCode, watched.stderr).toBe(0);
    expect(watched.stderr).toContain(`the worker running ${id} (pid ${pid}) is gone; its try was recovered`);
    expect(await project.status(id)).toMatchObject({ status: "succeeded", tries: 2, message: "done by try 2" });
  });

  it('with "worker": false, watch recovers the try and says it waits for a tick; the tick ends the watch', async () => {
    const project = useProject(onTestFinished, { tasks: { "hangs.js": HANGS_ONCE }, config: { worker: false } });
    const id = await project.run("hangs");
    const tick = background(project, ["tick", "--max-time", "1m"]);
    const pid = await killWorkerOf(project, id);
    expect(pid).toBe(tick.pid);
    await tick;

    const watch = background(project, ["watch", id]);
    let stderr = "";
    watch.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(
      () => stderr.includes(`${id} waits for a tick or a worker: workers are off in this project ("worker": false in bgtask.config.json)`),
      15_000,
      () => stderr,
    );
    expect(stderr).toContain(`the worker running ${id} (pid ${pid}) is gone; its try was recovered`);
    expect((await project.status(id)).status).toBe("scheduled");
    expect(project.workers()).toEqual([]);

    expect((await project.cli(["tick"])).code).toBe(0);
    const ended = await watch;
    expect(ended.exitCode, ended.stderr).toBe(0);
    expect(await project.status(id)).toMatchObject({ status: "succeeded", tries: 2 });
  });
});

describeOnJournals("run --follow with no worker to come", () => {
  it("--no-worker says the task waits for a tick or a worker, and follows it to the end a tick brings", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const follow = background(project, ["run", "noop", "--no-worker", "--follow"]);
    let stderr = "";
    follow.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(
      () => stderr.includes("1 waits for a tick or a worker: it was stored with --no-worker"),
      15_000,
      () => stderr,
    );
    expect(project.workers()).toEqual([]);
    expect((await project.cli(["tick"])).code).toBe(0);
    const ended = await follow;
    expect(ended.exitCode, ended.stderr).toBe(0);
    expect(ended.stdout).toMatch(/^1\n[\s\S]*1 noop succeeded/);
  });
});

describeOnJournals("watch with no ids", () => {
  it("is not kept open by a task scheduled beyond the schedule window, and says it does not wait for it", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "gated.ts": fixture("gated.ts") } });
    const later = await project.run("noop", ["--at", "2099-06-01T00:00:00Z"]);
    const alone = await project.cli(["watch"]);
    expect(alone).toMatchObject({ code: 0, stdout: "" });
    expect(alone.stderr).toBe(
      `no active tasks due within 15m to watch; not waiting for 1 task scheduled later (the next, ${later}, at 2099-06-01T00:00:00.000Z)`,
    );

    // A task held at a gate until the watch shows it: it cannot end before the watch starts.
    const soon = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{}] })]);
    const watching = background(project, ["watch"]);
    let shown = "";
    watching.stdout?.on("data", (chunk: Buffer) => (shown += chunk.toString()));
    await waitFor(() => shown.includes(soon), 20_000);
    writeFileSync(join(project.dir, "gate-0"), "");
    const watched = await watching;
    expect(watched.timedOut).toBe(false);
    expect(watched.exitCode, watched.stderr).toBe(0);
    expect(watched.stdout).toMatch(new RegExp(`✔ ${soon} gated succeeded`));
    expect(watched.stderr).toContain(`not waiting for 1 task scheduled later (the next, ${later}, at 2099-06-01T00:00:00.000Z)`);
  });
});
