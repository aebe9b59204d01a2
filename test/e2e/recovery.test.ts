// A worker that dies never leaves its task running: the next claimer (here a tick) recovers the try
// at once when the process is gone, also when its pid now belongs to another process (left alone);
// a worker frozen past its lease that wakes up has its late writes rejected and stops.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { alive, useProject, waitFor, type Project } from "../helpers/project.ts";

// Try 1 never ends by itself; later tries finish quickly. Appends "<try> start|end" to context.ledger.
// With context.childFile, try 1 first starts a child process and writes its pid there.
const STALLS_ONCE = `
  import { appendFileSync, writeFileSync } from "node:fs";
  import { spawn } from "node:child_process";
  import { defineTask } from "bgtask";
  export default defineTask({
    async run(task) {
      if (task.context.childFile && task.tries === 1) {
        writeFileSync(task.context.childFile, String(spawn("sleep", ["300"], { stdio: "ignore" }).pid));
      }
      appendFileSync(task.context.ledger, task.tries + " start\\n");
      const end = Date.now() + (task.tries === 1 ? 3_600_000 : 300);
      while (Date.now() < end) {
        if (task.signal.aborted) throw new Error("aborted: " + task.signal.reason);
        await task.progress(task.tries === 1 ? 10 : 50, "try " + task.tries);
        await new Promise((r) => setTimeout(r, 20));
      }
      appendFileSync(task.context.ledger, task.tries + " end\\n");
      return { message: "finished by try " + task.tries };
    },
  });`;

// Try 1 waits until the file context.until exists; later tries end at once.
const GATED_ONCE = `
  import { existsSync } from "node:fs";
  import { defineTask } from "bgtask";
  export default defineTask({
    async run(task) {
      while (task.tries === 1 && !existsSync(task.context.until)) await new Promise((r) => setTimeout(r, 20));
      return { message: "done by try " + task.tries };
    },
  });`;

async function startStalling(project: Project, extra: string[] = []): Promise<{ id: string; pid: number; ledger: string }> {
  const ledger = join(project.dir, "ledger.txt");
  const id = await project.run("stalls", ["--retry", "1x0s", `ledger=${JSON.stringify(ledger)}`, ...extra]);
  const running = await project.waitForTask(id, (t) => t.status === "running" && t.progress > 0);
  return { id, pid: running.worker!.pid, ledger };
}

async function killAndWait(pid: number): Promise<void> {
  process.kill(pid, "SIGKILL");
  await waitFor(
    () => !alive(pid),
    10_000,
    () => `worker ${pid} still alive`,
  );
}

describe("crash recovery", () => {
  it("a SIGKILLed worker's task is recovered by the next tick: the try counts, its executor's child is stopped, it runs again", async () => {
    const project = useProject(onTestFinished, { tasks: { "stalls.js": STALLS_ONCE } });
    const childFile = join(project.dir, "child.pid");
    const { id, pid, ledger } = await startStalling(project, [`childFile=${JSON.stringify(childFile)}`]);
    const child = Number(readFileSync(childFile, "utf8"));
    await killAndWait(pid);
    expect(alive(child)).toBe(true);
    const killedAt = Date.now();

    const tick = await project.cli(["tick", "--max-time", "20s"]);
    expect(tick).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const task = await project.status(id);
    expect(task).toMatchObject({ status: "succeeded", tries: 2, message: "finished by try 2" });
    expect(task.history[0]).toMatchObject({ try: 1, status: "failed" });
    expect(task.history[0]!.error!.message).toMatch(new RegExp(`worker running this task died \\(pid ${pid} on .+\\): its process is gone`));
    // Detected at once (the pid is gone): no heartbeat timeout was waited for.
    expect(Date.parse(task.history[0]!.finishedAt!) - killedAt).toBeLessThan(15_000);
    expect(readFileSync(ledger, "utf8")).toBe("1 start\n2 start\n2 end\n");
    // Left in the dead worker's process group, it was killed before the task ran again.
    expect(alive(child)).toBe(false);
  });

  it("recovers it too when the dead worker's pid now belongs to another process, which is not signalled", async () => {
    const project = useProject(onTestFinished, { tasks: { "stalls.js": STALLS_ONCE } });
    const { id, pid } = await startStalling(project);
    await killAndWait(pid);
    const stranger = spawn("sleep", ["300"], { stdio: "ignore" });
    onTestFinished(() => void stranger.kill("SIGKILL"));
    await waitFor(() => stranger.pid !== undefined && alive(stranger.pid));
    // The journal now names a live process with the right host but another start time: a reused pid.
    await project.editTask(id, (task) => ({ ...task, worker: { ...task.worker!, pid: stranger.pid! } }));

    const tick = await project.cli(["tick", "--max-time", "20s"]);
    expect(tick.code).toBe(0);
    const task = await project.status(id);
    expect(task).toMatchObject({ status: "succeeded", tries: 2 });
    expect(task.history[0]!.error!.message).toMatch(new RegExp(`died \\(pid ${stranger.pid} `));
    expect(alive(stranger.pid!)).toBe(true);
    expect(stranger.exitCode).toBeNull();
    expect(stranger.signalCode).toBeNull();
  });

  it("a worker frozen past its lease and woken up cannot overwrite the new try: its writes are rejected and it exits", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "stalls.js": STALLS_ONCE },
      env: { BGTASK_HEARTBEAT: "200ms", BGTASK_HEARTBEAT_TIMEOUT: "1s" },
    });
    const { id, pid, ledger } = await startStalling(project);
    // Frozen outside a journal write: a live holder keeps the journal lock however long it is
    // stopped (issue 10), and the tick below would wait for it, not recover its try.
    const lockPath = join(project.home, "journal.lock");
    const holdsLock = () => existsSync(lockPath) && readFileSync(lockPath, "utf8").includes(`"pid":${pid},`);
    const stopped = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("T");
    await waitFor(async () => {
      process.kill(pid, "SIGSTOP");
      await waitFor(stopped, 5_000);
      if (!holdsLock()) return true;
      process.kill(pid, "SIGCONT");
      return false;
    }, 10_000);
    onTestFinished(() => {
      if (alive(pid)) process.kill(pid, "SIGKILL");
    });
    await project.waitForTask(id, (t) => Date.now() - Date.parse(t.heartbeatAt!) > 1_500, 10_000);

    const tick = await project.cli(["tick", "--max-time", "20s"]);
    expect(tick.code).toBe(0);
    const settled = await project.status(id);
    expect(settled).toMatchObject({ status: "succeeded", tries: 2, message: "finished by try 2", progress: 100 });
    expect(settled.history[0]!.error!.message).toMatch(/no heartbeat for \d+s/);
    expect(alive(pid)).toBe(true);

    process.kill(pid, "SIGCONT");
    await waitFor(
      () => !alive(pid),
      15_000,
      () => `woken worker ${pid} did not exit`,
    );
    expect(await project.status(id)).toEqual(settled);
    expect(readFileSync(ledger, "utf8")).toBe("1 start\n2 start\n2 end\n");
    const log = join(project.home, "logs", `${id}.log`);
    expect(existsSync(log) && readFileSync(log, "utf8")).toMatch(/\[try 1\] bgtask \| this try was taken away from this worker/);
  });

  it("a live worker whose journal heartbeat waits behind the lock past the timeout is not taken for dead (its beat file is fresh)", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "gated.js": GATED_ONCE },
      env: { BGTASK_HEARTBEAT: "200ms", BGTASK_HEARTBEAT_TIMEOUT: "1s", BGTASK_LOCK_STALE: "60s" },
    });
    const until = join(project.dir, "go");
    const id = await project.run("gated", [`until=${JSON.stringify(until)}`]);
    const running = await project.waitForTask(id, (t) => t.status === "running");
    const beat = join(project.home, "beats", `${running.worker!.pid}-${running.worker!.startTime}`);
    await waitFor(
      () => existsSync(beat),
      10_000,
      () => `no beat file ${beat}`,
    );

    // The journal lock held by someone else (as by hundreds of queued writers) for longer than the
    // heartbeat timeout; a tick queues for it beside the worker's heartbeat.
    const lock = join(project.home, "journal.lock");
    writeFileSync(lock, "", { flag: "wx" });
    const refresh = setInterval(() => utimesSync(lock, new Date(), new Date()), 100);
    const tick = project.cli(["tick", "--max-time", "1s"]);
    await new Promise<void>((resolve) => setTimeout(resolve, 2_500)); // the hold itself is the test's input, not a wait for a condition
    clearInterval(refresh);
    rmSync(lock);
    expect((await tick).code).toBe(0);

    writeFileSync(until, "");
    const settled = await project.waitForTask(id, (t) => t.status !== "running");
    expect(settled).toMatchObject({ status: "succeeded", tries: 1 });
    await waitFor(
      () => project.workers().length === 0,
      15_000,
      () => "worker did not exit",
    );
    expect(existsSync(beat)).toBe(false);
  });

  it("SIGTERM lets a worker's try finish; a second SIGTERM forces it: failed, retried by its policy", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.js": GATED_ONCE }, env: { BGTASK_GRACE: "30s" } });
    const gate = join(project.dir, "gate");
    const until = `until=${JSON.stringify(gate)}`;
    const stopping = (pid: number) => () => {
      const log = join(project.home, "logs", "worker.log");
      return existsSync(log) && readFileSync(log, "utf8").includes(`bgtask worker ${pid}: worker stopped (SIGTERM): claiming nothing more`);
    };

    const finishes = await project.run("gated", [until]);
    const first = (await project.waitForTask(finishes, (t) => t.status === "running")).worker!.pid;
    process.kill(first, "SIGTERM");
    await waitFor(stopping(first));
    writeFileSync(gate, "");
    expect(await project.waitForTask(finishes, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 1 });
    await waitFor(
      () => !alive(first),
      10_000,
      () => `worker ${first} did not exit`,
    );

    rmSync(gate);
    const forced = await project.run("gated", [until, "--retry", "1x0s"]);
    const second = (await project.waitForTask(forced, (t) => t.status === "running")).worker!.pid;
    process.kill(second, "SIGTERM");
    await waitFor(stopping(second));
    process.kill(second, "SIGTERM");
    const retried = await project.waitForTask(forced, (t) => t.status !== "running");
    expect(retried).toMatchObject({ status: "scheduled", tries: 1, error: { message: "worker stopped (SIGTERM)" } });
    await waitFor(
      () => !alive(second),
      10_000,
      () => `worker ${second} did not exit`,
    );
    expect(await project.cli(["tick"])).toMatchObject({ code: 0, stdout: "" });
    expect(await project.status(forced)).toMatchObject({ status: "succeeded", tries: 2, message: "done by try 2" });
  });
});
