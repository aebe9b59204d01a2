// Issue 13's claim-side queue controls, through the real binary and real detached workers:
// priorities reorder claims (serial keys still hold), keys deduplicate `run` (also 50 at once) and
// replace a waiting task, `--after` chains run in order or cancel down the chain, a paused queue
// is claimed by no worker until resumed, an executor's concurrency holds across workers, and the
// bulk forms of retry and cancel. The slow fixture's ledger (start/end lines appended by the
// executor) is the ground truth for order and overlap.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { maxOverlap, waitAllFinal } from "../helpers/intervals.ts";
import { describeOnJournals, BIN, useProject, waitFor, type Project } from "../helpers/project.ts";

/** The final records of `ids`, in id order. */
async function finalTasks(project: Project, ids: readonly string[], timeoutMs?: number): Promise<TaskRecord[]> {
  return (await waitAllFinal(project, ids, timeoutMs)).filter((t) => ids.includes(t.id));
}

interface Interval {
  id: string;
  start: number;
  end: number;
}

/** The slow fixture's ledger: "<id> <try> <pid> start|end <epoch ms>", as intervals in start order. */
function ledger(path: string): Interval[] {
  const byId = new Map<string, Interval>();
  for (const line of readFileSync(path, "utf8").trim().split("\n")) {
    const [id, , , what, at] = line.split(" ");
    if (what === "start") byId.set(id!, { id: id!, start: Number(at), end: Infinity });
    else byId.get(id!)!.end = Number(at);
  }
  return [...byId.values()].sort((a, b) => a.start - b.start);
}

const slowWith = (settings: string) =>
  fixture("slow.ts").replace("defineTask<{ ms?: number; marker?: string }>({", `defineTask<{ ms?: number; marker?: string }>({ ${settings}`);
// Holds each try at a gate (a file the test creates), then runs `ms`: the slow fixture's ledger lines, at most two at once.
const LIMITED = `import { appendFileSync, existsSync } from "node:fs";
import { defineTask } from "bgtask";
export default defineTask({
  concurrency: 2,
  async run(task) {
    const { gate, marker, ms } = task.context;
    appendFileSync(marker, \`\${task.id} \${task.tries} \${process.pid} start \${Date.now()}\\n\`);
    while (!existsSync(gate)) {
      if (task.signal.aborted) throw new Error("stopped");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, ms));
    appendFileSync(marker, \`\${task.id} \${task.tries} \${process.pid} end \${Date.now()}\\n\`);
    return {};
  },
});
`;
const FAILS = `import { defineTask } from "bgtask";\nexport default defineTask({ async run() { throw new Error("broken on purpose"); } });\n`;

describeOnJournals("priorities", () => {
  it("a worker claims higher priority first, then the oldest, whatever order they were stored in", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") }, config: { concurrency: 1 } });
    const marker = join(project.dir, "ledger");
    const ctx = `--ctx=${JSON.stringify({ ms: 50, marker })}`;
    const low1 = await project.run("slow", [ctx, "--no-worker"]);
    const low2 = await project.run("slow", [ctx, "--no-worker"]);
    const high = await project.run("slow", [ctx, "--no-worker", "--priority", "5"]);
    const mid = await project.run("slow", [ctx, "--no-worker", "--priority", "1"]);
    expect((await project.status(high)).priority).toBe(5);
    // The last run starts the one worker (concurrency 1), with every task already waiting.
    const last = await project.run("slow", [ctx]);
    await finalTasks(project, [low1, low2, high, mid, last]);
    expect(ledger(marker).map((i) => i.id)).toEqual([high, mid, low1, low2, last]);
  });

  it("serial tasks never overlap with priorities, and start in priority order among themselves", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "serial.ts": slowWith("serial: true,"), "slow.ts": fixture("slow.ts") },
      config: { concurrency: 2 },
    });
    const marker = join(project.dir, "serial-ledger");
    const ctx = `--ctx=${JSON.stringify({ ms: 200, marker })}`;
    const ids: string[] = [];
    for (const priority of ["0", "3", "1", "3"]) ids.push(await project.run("serial", [ctx, "--no-worker", "--priority", priority]));
    const other = await project.run("slow", [`--ctx=${JSON.stringify({ ms: 200 })}`]);
    await project.run("slow", [`--ctx=${JSON.stringify({ ms: 200 })}`]);
    await finalTasks(project, [...ids, other]);
    const intervals = ledger(marker);
    expect(maxOverlap(intervals)).toBe(1);
    expect(intervals.map((i) => i.id)).toEqual([ids[1], ids[3], ids[2], ids[0]]);
  });
});

describeOnJournals("keys", () => {
  it("50 concurrent `run --key same` make one task; the other 49 print its id and say so", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) => project.cli(["run", "noop", `n=${n}`, "--key", "same", "--no-worker"], { timeout: 120_000 })),
    );
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const ids = new Set(results.map((r) => r.stdout.trim()));
    expect(ids.size).toBe(1);
    const tasks = await project.list();
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ id: [...ids][0], key: "same" });
    const told = results.filter((r) => /is not final yet \(queued\), so no task was created/.test(r.stderr));
    expect(told).toHaveLength(49);
  });

  it("--replace gives a waiting task the new context and run time, and leaves a running one as it is", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "gated.ts": fixture("gated.ts") } });
    const first = JSON.parse((await project.cli(["run", "noop", "a=1", "--key", "k", "--no-worker", "--json"])).stdout);
    expect(first).toMatchObject({ context: { a: 1 }, deduplicated: false });
    const kept = await project.cli(["run", "noop", "a=2", "--key", "k", "--no-worker", "--json"]);
    expect(JSON.parse(kept.stdout)).toMatchObject({ id: first.id, context: { a: 1 }, deduplicated: true });
    const replaced = await project.cli(["run", "noop", "a=3", "--key", "k", "--replace", "--delay", "1h", "--no-worker", "--json"]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stderr).toMatch(/it takes the new context and run time/);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ id: first.id, context: { a: 3 }, status: "scheduled", deduplicated: true, replaced: true });
    expect(await project.status(first.id)).toMatchObject({ context: { a: 3 }, status: "scheduled" });
    // A key belongs to its executor: another executor's task with the same key is a new task.
    const other = await project.run("gated", [`--ctx=${JSON.stringify({ dir: project.dir, stages: [{ progress: 10 }] })}`, "--key", "k"]);
    expect(other).not.toBe(first.id);
    await project.waitForTask(other, (t) => t.status === "running" && t.progress === 10);
    const running = await project.cli(["run", "gated", `--ctx=${JSON.stringify({ dir: project.dir, stages: [] })}`, "--key", "k", "--replace", "--json"]);
    expect(running.code, running.stderr).toBe(0);
    expect(running.stderr).toMatch(new RegExp(`task ${other} \\(gated, key "k"\\) has started \\(running\\), so it was not replaced`));
    expect(JSON.parse(running.stdout)).toMatchObject({ id: other, deduplicated: true, replaced: false });
    expect((await project.status(other)).context).toMatchObject({ stages: [{ progress: 10 }] });
    writeFileSync(join(project.dir, "gate-0"), "");
    await project.waitForTask(other, (t) => t.status === "succeeded");
    // Once final, the key is free again.
    expect(await project.run("gated", [`--ctx=${JSON.stringify({ dir: project.dir, stages: [] })}`, "--key", "k", "--no-worker"])).not.toBe(other);
  });
});

describeOnJournals("dependencies", () => {
  it("a chain after a failure is cancelled down the chain, each naming the task it ran after", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "fails.js": FAILS } });
    const a = await project.run("fails", ["--no-worker"]);
    const b = await project.run("noop", ["--after", a, "--no-worker"]);
    const c = await project.run("noop", ["--after", b]);
    const status = await project.cli(["status", b]);
    // Unless the worker was quicker than this status, B waits for A.
    if ((await project.status(a)).status === "queued") expect(status.stdout).toMatch(new RegExp(`waiting for ${a}`));
    const [ta, tb, tc] = await finalTasks(project, [a, b, c]);
    expect(ta).toMatchObject({ status: "failed" });
    expect(tb).toMatchObject({ status: "cancelled", tries: 0, message: `cancelled: task ${a}, which it runs after, failed` });
    expect(tc).toMatchObject({ status: "cancelled", tries: 0, message: `cancelled: task ${b}, which it runs after, was cancelled` });
    // After a task that already failed: stored cancelled at once, as it would have been.
    const late = JSON.parse((await project.cli(["run", "noop", "--after", a, "--json"])).stdout);
    expect(late).toMatchObject({ status: "cancelled", message: `cancelled: task ${a}, which it runs after, failed` });
  });

  it("a chain that succeeds runs in order, each after the ones it names succeeded", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    const marker = join(project.dir, "ledger");
    const ctx = `--ctx=${JSON.stringify({ ms: 150, marker })}`;
    const a = await project.run("slow", [ctx, "--no-worker"]);
    const b = await project.run("slow", [ctx, "--after", a, "--no-worker"]);
    const c = await project.run("slow", [ctx, "--after", `${a},${b}`, "--no-worker"]);
    const free = await project.run("slow", [ctx]);
    expect((await project.status(c)).after).toEqual([a, b]);
    const tasks = await finalTasks(project, [a, b, c, free]);
    for (const task of tasks) expect(task.status).toBe("succeeded");
    const at = new Map(ledger(marker).map((i) => [i.id, i]));
    expect(at.get(b)!.start).toBeGreaterThanOrEqual(at.get(a)!.end);
    expect(at.get(c)!.start).toBeGreaterThanOrEqual(at.get(b)!.end);
  });

  it("cancelling or removing a task cancels those waiting for it", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const a = await project.run("noop", ["--no-worker", "--delay", "1h"]);
    const b = await project.run("noop", ["--no-worker", "--after", a]);
    const c = await project.run("noop", ["--no-worker", "--delay", "1h"]);
    const d = await project.run("noop", ["--no-worker", "--after", c]);
    expect((await project.cli(["cancel", a])).code).toBe(0);
    expect(await project.status(b)).toMatchObject({ status: "cancelled", message: `cancelled: task ${a}, which it runs after, was cancelled` });
    expect((await project.cli(["remove", c])).code).toBe(0);
    expect(await project.status(d)).toMatchObject({ status: "cancelled", message: `cancelled: task ${c}, which it runs after, was removed` });
  });
});

describeOnJournals("paused queues", () => {
  it("workers claim nothing of a paused queue, running tries finish, and resume starts them again", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts"), "noop.js": fixture("noop.js") }, config: { concurrency: 2 } });
    const ctx = `--ctx=${JSON.stringify({ ms: 1_500 })}`;
    const running = [await project.run("slow", [ctx]), await project.run("slow", [ctx])];
    for (const id of running) await project.waitForTask(id, (t) => t.status === "running");
    expect(project.workers()).toHaveLength(2);
    const paused = await project.cli(["pause", "slow"]);
    expect(paused).toMatchObject({ code: 0, stdout: "queue slow is paused" });
    const waiting: string[] = [];
    for (let i = 0; i < 3; i++) waiting.push(await project.run("slow", [`--ctx=${JSON.stringify({ ms: 50 })}`]));
    // Another executor's queue goes on.
    const other = await project.run("noop");
    await project.waitForTask(other, (t) => t.status === "succeeded");
    for (const id of running) await project.waitForTask(id, (t) => t.status === "succeeded");
    // Idle with only paused work, the workers leave: they claimed none of it.
    await waitFor(
      () => project.workers().length === 0,
      30_000,
      () => `workers still alive: ${project.workers()}`,
    );
    for (const id of waiting) expect(await project.status(id)).toMatchObject({ status: "queued", tries: 0 });
    const list = await project.cli(["list"]);
    expect(list.stdout).toMatch(/queued \(queue paused\)/);
    expect(list.stdout).toMatch(/queue slow is paused: workers claim none of its tasks \(bgtask resume slow\)/);
    expect((await project.cli(["status", waiting[0]!])).stdout).toMatch(/status\s+queued \(queue slow is paused\)/);
    expect((await project.cli(["pause", "--json"])).stdout).toContain('"slow"');
    // watch shows it too, on the task's line, until the queue is resumed and the task ends.
    const watcher = execa(process.execPath, [BIN, "watch", waiting[0]!], { cwd: project.dir, env: project.env, reject: false });
    let watched = "";
    watcher.stdout!.on("data", (chunk: Buffer) => {
      watched += chunk.toString();
    });
    await waitFor(
      () => watched.includes("(queue slow is paused)"),
      30_000,
      () => `watch printed: ${watched}`,
    );
    const resumed = await project.cli(["resume", "slow"]);
    expect(resumed).toMatchObject({ code: 0, stdout: "queue slow is resumed" });
    const done = await finalTasks(project, waiting);
    for (const task of done) expect(task.status).toBe("succeeded");
    expect((await watcher).exitCode).toBe(0);
    expect(watched).toMatch(new RegExp(`${waiting[0]} slow succeeded`));
    expect((await project.cli(["pause"])).stdout).toBe("no queue is paused");
  });
});

describeOnJournals("concurrency per executor", () => {
  it("at most `concurrency` of an executor's tasks run at once across three workers, while another executor's run beside them", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "limited.js": LIMITED, "slow.ts": fixture("slow.ts") },
      config: { concurrency: 3 },
    });
    const executors = await project.cli(["executors"]);
    expect(executors.stdout).toMatch(/limited .*concurrency 2/);
    const marker = join(project.dir, "limited-ledger");
    const gate = join(project.dir, "open");
    const ctx = `--ctx=${JSON.stringify({ gate, marker, ms: 100 })}`;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await project.run("limited", [ctx]));
    const runningLimited = async () => (await project.list(["--executor", "limited", "--status", "running"])).length;
    await waitFor(
      async () => (await runningLimited()) === 2,
      30_000,
      () => "two limited tasks never ran",
    );
    // Two workers hold the limited tasks at the gate: the other executor's run beside them.
    const others = [await project.run("slow", [`--ctx=${JSON.stringify({ ms: 50 })}`]), await project.run("slow", [`--ctx=${JSON.stringify({ ms: 50 })}`])];
    for (const id of others) await project.waitForTask(id, (t) => t.status === "succeeded");
    expect(await runningLimited()).toBe(2);
    writeFileSync(gate, "");
    const tasks = await finalTasks(project, ids, 90_000);
    for (const task of tasks) expect(task.status).toBe("succeeded");
    const limited = ledger(marker);
    expect(limited).toHaveLength(6);
    expect(maxOverlap(limited)).toBe(2);
  });

  it("the config's `executors` entry sets an executor's concurrency and priority, over its definition", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "limited.ts": slowWith("concurrency: 2, priority: 1,") },
      config: { executors: { limited: { concurrency: 1, priority: 4 } } },
    });
    const executors = await project.cli(["executors", "--json"]);
    expect(JSON.parse(executors.stdout).executors[0].settings).toMatchObject({
      priority: 4,
      concurrency: 1,
      from: { priority: "config", concurrency: "config" },
    });
    const id = await project.run("limited", ["--no-worker"]);
    expect(await project.status(id)).toMatchObject({ priority: 4, concurrency: 1 });
  });
});

describeOnJournals("bulk retry and cancel", () => {
  it("retry --failed [--executor] queues every failed task again; cancel --all-queued [--executor] cancels every waiting one", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "fails.js": FAILS, "also/fails.js": FAILS } });
    const failing = [await project.run("fails"), await project.run("fails"), await project.run("also/fails")];
    await finalTasks(project, failing);
    const retried = await project.cli(["retry", "--failed", "--executor", "fails"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(`${failing[0]} fails queued again (try 2 of 2)\n${failing[1]} fails queued again (try 2 of 2)`);
    await waitFor(
      async () => (await project.list(["--status", "failed"])).length === 3,
      30_000,
      () => "the retried tasks did not fail again",
    );
    // No worker may be left to take what is queued with --no-worker below.
    await waitFor(
      () => project.workers().length === 0,
      30_000,
      () => `workers still alive: ${project.workers()}`,
    );
    const all = JSON.parse((await project.cli(["retry", "--failed", "--json", "--no-worker"])).stdout) as TaskRecord[];
    expect(all.map((t) => t.id).sort()).toEqual([...failing].sort());
    expect(all.every((t) => t.status === "queued")).toBe(true);
    expect((await project.cli(["retry", "--failed"])).stdout).toBe("no failed tasks");

    const noop = [await project.run("noop", ["--no-worker", "--delay", "1h"]), await project.run("noop", ["--no-worker"])];
    const cancelled = await project.cli(["cancel", "--all-queued", "--executor", "noop"]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toBe(`${noop[0]} cancelled\n${noop[1]} cancelled`);
    const rest = JSON.parse((await project.cli(["cancel", "--all-queued", "--json"])).stdout) as TaskRecord[];
    expect(rest.map((t) => t.id).sort()).toEqual([...failing].sort());
    expect(rest.every((t) => t.status === "cancelled")).toBe(true);
    expect((await project.cli(["cancel", "--all-queued"])).stdout).toBe("no tasks waiting to start");
    // Several ids: all or none.
    const again = await project.cli(["retry", noop[0]!, noop[1]!]);
    expect(again.stdout).toBe(`${noop[0]}\n${noop[1]}`);
  });
});
