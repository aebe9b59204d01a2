// `bgtask tick` for cron: one at a time, a mutex a killed tick does not keep, `--no-worker` tasks
// run only by ticks, and nothing started that cannot end within the budget.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { execa } from "execa";
import { describeOnJournals, BIN, useProject, waitFor } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

// Try 1 hangs until aborted; later tries end at once.
const HANGS_ONCE = `
  import { defineTask } from "bgtask";
  export default defineTask({
    run: (task) => task.tries === 1
      ? new Promise((_, reject) => task.signal.addEventListener("abort", () => reject(new Error(String(task.signal.reason)))))
      : { message: "done by try " + task.tries },
  });`;

// Runs until the file context.until exists: the test decides when it ends.
const WAITS_FOR_FILE = `
  import { existsSync } from "node:fs";
  import { defineTask } from "bgtask";
  export default defineTask({
    async run(task) {
      while (!existsSync(task.context.until)) await new Promise((r) => setTimeout(r, 20));
      return { message: "released" };
    },
  });`;

describeOnJournals("tick", () => {
  it("two ticks at once: one runs the work, the other exits 0 at once saying a tick is running", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.js": WAITS_FOR_FILE } });
    const gate = join(project.dir, "gate");
    const id = await project.run("gated", [`until=${JSON.stringify(gate)}`, "--no-worker"]);
    const first = execa(process.execPath, [BIN, "tick"], { cwd: project.dir, env: project.env, reject: false });
    const running = await project.waitForTask(id, (t) => t.status === "running");
    expect(running.worker!.pid).toBe(first.pid);

    const second = await project.cli(["tick"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(new RegExp(`^bgtask: a tick is already running \\(pid ${first.pid} on .+\\); this one exits$`));
    expect((await project.status(id)).status).toBe("running");

    writeFileSync(gate, "");
    const ended = await first;
    expect({ code: ended.exitCode, stdout: ended.stdout, stderr: ended.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(await project.status(id)).toMatchObject({ status: "succeeded", tries: 1 });
  });

  it("a tick killed with SIGKILL does not block the next, which recovers its task", async () => {
    const project = useProject(onTestFinished, { tasks: { "hangs.js": HANGS_ONCE } });
    const id = await project.run("hangs", ["--no-worker", "--retry", "1x0s"]);
    const first = execa(process.execPath, [BIN, "tick"], { cwd: project.dir, env: project.env, reject: false });
    await project.waitForTask(id, (t) => t.status === "running");
    first.kill("SIGKILL");
    await first;

    const next = await project.cli(["tick", "--max-time", "10s"]);
    expect(next).toMatchObject({ code: 0, stdout: "" });
    const task = await project.status(id);
    expect(task).toMatchObject({ status: "succeeded", tries: 2, message: "done by try 2" });
    expect(task.history[0]!.error!.message).toMatch(new RegExp(`died \\(pid ${first.pid} `));
  });

  it("--no-worker tasks wait for a tick; one whose timeout outlasts the budget is handed to a worker, since workers are allowed", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "noop.js": fixture("noop.js"),
        "long.js": `import { defineTask } from "bgtask"; export default defineTask({ timeout: "1h", run() { return { message: "ran in " + process.argv[1] }; } });`,
      },
    });
    const noop = await project.run("noop", ["--no-worker"]);
    const long = await project.run("long", ["--no-worker"]);
    // `run` starts workers before it exits: none means nothing but a tick will run these.
    expect(project.workers()).toEqual([]);
    expect((await project.status(noop)).status).toBe("queued");

    const tick = await project.cli(["tick", "--max-time", "5s"]);
    expect(tick).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(await project.status(noop)).toMatchObject({ status: "succeeded", tries: 1 });
    const ran = await project.waitForTask(long, (t) => t.completed);
    expect(ran).toMatchObject({ status: "succeeded", message: expect.stringMatching(/ran in .*worker\/main\.js$/) });
    await waitFor(() => project.workers().length === 0, 5_000);
  });

  it('cron-only ("worker": false): a task whose timeout outlasts the budget is not run, said once on stderr and in status', async () => {
    const project = useProject(onTestFinished, {
      config: { worker: false },
      tasks: { "long.js": `import { defineTask } from "bgtask"; export default defineTask({ timeout: "1h", run() { return { message: "ran" }; } });` },
    });
    const long = await project.run("long");
    const why = `its timeout (1h) is longer than the ticks' budget (--max-time 5s) and workers are off ("worker": false), so no tick starts it; raise --max-time above 1h, shorten its timeout, or allow workers`;
    expect(await project.cli(["tick", "--max-time", "5s"])).toMatchObject({ code: 0, stdout: "", stderr: `bgtask: task ${long} (long) is not run: ${why}` });
    expect(await project.cli(["tick", "--max-time", "5s"])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(await project.status(long)).toMatchObject({ status: "queued", tries: 0 });
    expect((await project.cli(["status", long])).stdout).toMatch(new RegExp(`^not run +${why.replace(/[()]/g, "\\$&")}$`, "m"));
    expect(await project.cli(["tick", "--max-time", "2h"])).toMatchObject({ code: 0, stderr: "" });
    expect(await project.status(long)).toMatchObject({ status: "succeeded", message: "ran" });
    expect((await project.cli(["status", long])).stdout).not.toMatch(/^not run/m);
  });

  it("keeps its budget with a task that has no timeout: its try is stopped at the budget's end, and says why", async () => {
    const project = useProject(onTestFinished, {
      config: { worker: false },
      env: { BGTASK_GRACE: "1s" },
      tasks: {
        "sixty.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            run: (task) => new Promise((resolve, reject) => {
              const timer = setTimeout(() => resolve({ message: "a minute later" }), 60_000);
              task.signal.addEventListener("abort", () => { clearTimeout(timer); reject(new Error("aborted: " + task.signal.reason)); });
            }),
          });`,
      },
    });
    const id = await project.run("sixty");
    const started = Date.now();
    const tick = await project.cli(["tick", "--max-time", "2s"]);
    const took = Date.now() - started;
    expect(tick).toMatchObject({ code: 0, stdout: "", stderr: "" });
    // Not a timing bound (a loaded machine stretches the grace): far short of the task's own minute.
    expect(took).toBeLessThan(30_000);
    expect(await project.status(id)).toMatchObject({
      status: "failed",
      tries: 1,
      error: { message: expect.stringMatching(/^stopped at the end of the tick's time budget \(--max-time\): give the executor a timeout/) },
    });
  });
});
