// Tasks made of resumable steps, run by detached workers: slices, saved state, crash resume,
// onError changing parameters.
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO, useProject, waitFor } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";
import { runInPty } from "../helpers/pty.ts";

/** A three-step executor whose middle step copies rows in slices of `slice`, logging each row to a ledger. */
function rowsExecutor(slice: string): string {
  return `
    import { appendFileSync } from "node:fs";
    import { defineTask } from "bgtask";
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    export default defineTask({
      slice: ${JSON.stringify(slice)},
      retry: { tries: 2, interval: 0 },
      steps: [
        { name: "collect", run(task) { task.state.total = task.context.rows; task.log("collect ran"); } },
        {
          name: "transfer",
          init(task) { task.state.offset = 0; task.state.slices = 0; },
          async run(task, { deadline }) {
            task.state.slices += 1;
            while (Date.now() < deadline) {
              if (task.state.offset >= task.state.total) return "done";
              await sleep(task.context.rowMs);
              appendFileSync(task.context.ledger, task.state.offset + "\\n");
              task.state.offset += 1;
            }
            return "pause";
          },
        },
        { name: "report", run(task) { task.log("report ran"); } },
      ],
    });`;
}

function ledgerRows(path: string): number[] {
  return existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];
}

describe("steps run by a worker", () => {
  it("runs a step over several slices, saving state, and records the step", async () => {
    const project = useProject(onTestFinished, { tasks: { "rows.js": rowsExecutor("200ms") } });
    const ledger = join(project.dir, "ledger.txt");
    const id = await project.run("rows", ["rows=60", "rowMs=10", `ledger=${ledger}`]);
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status).toBe("succeeded");
    expect(done.tries).toBe(1);
    expect(done.step).toMatchObject({ index: 2, name: "report", count: 3 });
    expect(done.state).toMatchObject({ total: 60, offset: 60 });
    // 60 rows of ≥10 ms in 200 ms slices: the step paused and resumed several times.
    expect(done.state.slices as number).toBeGreaterThanOrEqual(3);
    expect(ledgerRows(ledger)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(done.progress).toBe(100);
  });

  it("after SIGKILL in the middle step, resumes that step from its saved state, not from the start", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "rows.js": rowsExecutor("300ms"), "noop.js": fixture("noop.js") },
      env: { BGTASK_IDLE: "3s" },
    });
    const ledger = join(project.dir, "ledger.txt");
    const id = await project.run("rows", ["rows=150", "rowMs=10", `ledger=${ledger}`]);
    // Wait until the transfer step has saved progress at least once, then kill its worker mid-slice.
    const midway = await project.waitForTask(id, (t) => t.status === "running" && t.step?.index === 1 && (t.state.offset as number) >= 30);
    const killedAt = ledgerRows(ledger).length;
    process.kill(midway.worker!.pid, "SIGKILL");
    await waitFor(() => !project.workers().includes(midway.worker!.pid), 10_000);

    // Any later worker recovers the task (the try counts) and resumes it.
    await project.run("noop");
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status).toBe("succeeded");
    expect(done.tries).toBe(2);
    expect(done.history[0]!.error?.message).toMatch(/worker .* died/);

    const rows = ledgerRows(ledger);
    const counts = new Map<number, number>();
    for (const row of rows) counts.set(row, (counts.get(row) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    const repeated = rows.length - 150;
    // Only rows of the slice in progress at the kill run twice: at most one slice (300 ms of 10 ms rows).
    expect(repeated).toBeLessThanOrEqual(30);
    expect(killedAt).toBeGreaterThanOrEqual(30);
    // The first step ran once, in the first try only.
    const log = readFileSync(join(project.home, "logs", `${id}.log`), "utf8");
    expect(log.match(/collect ran/g)?.length).toBe(1);
  });

  it("lets onError shrink a batch and retry the step until it succeeds", async () => {
    const project = useProject(onTestFinished, { tasks: { "copy-rows.ts": readFileSync(join(process.cwd(), "tasks/copy-rows.ts"), "utf8") } });
    const id = await project.run("copy-rows", ["rows=40", "failAbove=10", "rowMs=1"]);
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status).toBe("succeeded");
    expect(done.tries).toBe(1);
    expect(done.state).toMatchObject({ offset: 40, batch: 6 });
    expect(done.attachments.map((a) => a.name)).toEqual(["summary.json"]);
  });

  it("runs steps that never look at their deadline when they finish within the slice", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "plain.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            steps: [
              { name: "one", run(task) { task.state.one = true; } },
              { name: "two", async run(task) { await new Promise((r) => setTimeout(r, 50)); task.state.two = true; } },
            ],
          });`,
      },
    });
    const id = await project.run("plain");
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done).toMatchObject({ status: "succeeded", state: { one: true, two: true }, step: { index: 1, name: "two", count: 2 } });
  });
});

describe("steps run only by ticks (cron mode)", () => {
  it("pauses between ticks, resumes each tick, completes after several, and every tick keeps its budget", async () => {
    const project = useProject(onTestFinished, { tasks: { "rows.js": rowsExecutor("30s"), "noop.js": fixture("noop.js") } });
    const ledger = join(project.dir, "ledger.txt");
    const id = await project.run("rows", ["rows=120", "rowMs=20", `ledger=${ledger}`, "--no-worker"]);
    const other = await project.run("noop", ["--no-worker"]);
    const budgetMs = 1000;
    const seen: string[] = [];
    let ticks = 0;
    let longest = 0;
    for (; ticks < 20; ticks++) {
      const started = Date.now();
      const tick = await project.cli(["tick", "--max-time", "1s"]);
      longest = Math.max(longest, Date.now() - started);
      expect(tick.code).toBe(0);
      const task = await project.status(id);
      seen.push(task.status);
      if (task.completed) break;
      // Between ticks nothing runs it: it waits paused in its middle step.
      expect(task.status).toBe("paused");
      expect(task.step?.name).toBe("transfer");
    }
    const done = await project.status(id);
    expect(done.status).toBe("succeeded");
    expect(done.tries).toBe(1);
    // 120 rows of ≥20 ms cannot fit one 1 s budget: several ticks each advanced it by a slice.
    expect(ticks).toBeGreaterThanOrEqual(2);
    expect(seen.filter((s) => s === "paused").length).toBeGreaterThanOrEqual(2);
    expect(ledgerRows(ledger)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // The other task got its turn in the first tick rather than waiting for the long one.
    expect((await project.status(other)).status).toBe("succeeded");
    // Wall time of a whole `bgtask tick` process: its budget plus start-up, with a wide margin for a loaded machine.
    console.log(`ticks: ${ticks + 1}, longest ${longest} ms for a ${budgetMs} ms budget`);
    expect(longest).toBeLessThan(budgetMs + 2500);
    expect(project.workers()).toEqual([]);
  });
});

describe("cron-only installations", () => {
  it('with "worker": false in the config, `run` starts no worker and ticks advance the task', async () => {
    const project = useProject(onTestFinished, { config: { worker: false }, tasks: { "rows.js": rowsExecutor("30s") } });
    const ledger = join(project.dir, "ledger.txt");
    const id = await project.run("rows", ["rows=5", "rowMs=1", `ledger=${ledger}`]);
    expect(project.workers()).toEqual([]);
    expect((await project.status(id)).status).toBe("queued");
    expect((await project.cli(["tick", "--max-time", "5s"])).code).toBe(0);
    expect((await project.status(id)).status).toBe("succeeded");
  });
});

describe("the progress bar of a task made of steps", () => {
  const copyRows = () => readFileSync(join(REPO, "tasks/copy-rows.ts"), "utf8");

  it("never moves back across slices: the task's own figures win over the step index once it reports them", async () => {
    const project = useProject(onTestFinished, { tasks: { "copy-rows.ts": copyRows() } });
    const follow = await project.cli(["run", "copy-rows", "rows=200", "rowMs=20", "--follow", "--json"]);
    expect(follow.code, follow.stderr).toBe(0);
    const records = follow.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { status: string; progress: number; step: { ownProgress?: boolean } | null });
    // 200 rows of ≥20 ms in 1 s slices: the transfer step resumed several times, each time at
    // step 2 of 3 (33%), which used to set the bar back there.
    const percents = records.map((r) => r.progress);
    expect(percents.filter((p) => p > 33 && p < 100).length, percents.join(" → ")).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < percents.length; i++) expect(percents[i], `went back: ${percents.join(" → ")}`).toBeGreaterThanOrEqual(percents[i - 1]!);
    expect(percents.at(-1)).toBe(100);
    expect(records.at(-1)!.step).toMatchObject({ ownProgress: true });
  });

  it("keeps its ETA in the live view across slices once there is one", async () => {
    const project = useProject(onTestFinished, { tasks: { "copy-rows.ts": copyRows() } });
    const id = await project.run("copy-rows", ["rows=400", "rowMs=20"]);
    const pty = runInPty(project, ["watch", id], onTestFinished);
    await pty.waitForOutput(/ETA \d+s/, 20_000);
    expect(await pty.exited).toBe(0);
    // The task's line in each frame drawn while it ran, from the first with an ETA on.
    const lines = [...pty.output().matchAll(/copy-rows +[█░]{20} +(\d+)%[^\n\r\u001b]*/g)].map((m) => ({ text: m[0], percent: Number(m[1]) }));
    const running = lines.slice(lines.findIndex((l) => l.text.includes("ETA"))).filter((l) => l.percent < 90);
    const without = running.filter((l) => !l.text.includes("ETA"));
    expect(without.length, without.map((l) => l.text).join("\n")).toBeLessThanOrEqual(running.length / 10);
  });
});
