// Many tries at once in one worker (issue 23): `concurrency` tasks at once on a host, shared by
// `workers` processes, each running its share in its own event loop. Each try keeps its own
// output, signal, cancel and timeout; one that will not stop is recorded at its grace and let go
// while its neighbours run on; a worker killed with many tries in flight has each recovered once;
// serial keys and executor limits hold across every place of every worker.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { alive, BIN, describeOnJournals, useProject, waitFor, type Project } from "../helpers/project.ts";

/** Waits, cooperatively, until the file `release` appears in the project (or the signal aborts it). */
const GATED = `
  import { existsSync, appendFileSync } from "node:fs";
  import { join } from "node:path";
  import { defineTask } from "bgtask";
  export default defineTask({
    retry: 2,
    async run(task) {
      appendFileSync(join(task.context.dir, "ledger.txt"), task.id + " " + process.pid + "\\n");
      while (!existsSync(join(task.context.dir, "release"))) {
        if (task.signal.aborted) throw new Error("stopped: " + task.signal.reason);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  });`;

async function enqueue(project: Project, executor: string, contexts: Array<Record<string, unknown>>, name = `${executor}.jsonl`): Promise<string[]> {
  const file = join(project.dir, name);
  writeFileSync(file, contexts.map((context) => JSON.stringify({ dir: project.dir, ...context })).join("\n"));
  const result = await project.cli(["run", "--no-worker", executor, "--each", file]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

/** `bgtask work` in the foreground, stopped when the test ends. */
function work(project: Project, args: string[]) {
  const child = execa(process.execPath, [BIN, "work", ...args], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  return child;
}

async function running(project: Project): Promise<TaskRecord[]> {
  return project.list(["--status", "running"]);
}

function ledgerCounts(project: Project): Map<string, number> {
  const counts = new Map<string, number>();
  const path = join(project.dir, "ledger.txt");
  if (!existsSync(path)) return counts;
  for (const line of readFileSync(path, "utf8").trim().split("\n")) {
    const id = line.split(" ")[0]!;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describeOnJournals("many tries at once in one worker", () => {
  it("runs 200 inline tries at once, each one's console.log, console.error and stdout writes in its own log only", async () => {
    const project = useProject(onTestFinished, {
      config: { concurrency: 200, workers: 1 },
      tasks: {
        // Every try waits until all 200 have started: they can only finish if they run at once, in one process.
        "chatty.js": `
          import { defineTask } from "bgtask";
          globalThis.started ??= 0;
          export default defineTask({
            async run(task) {
              globalThis.started += 1;
              const deadline = Date.now() + 60000;
              while (globalThis.started < 200) {
                if (Date.now() > deadline) throw new Error("only " + globalThis.started + " started");
                await new Promise((r) => setTimeout(r, 20));
              }
              for (let i = 0; i < 3; i++) {
                console.log("out " + task.id + " " + i);
                await new Promise((r) => setImmediate(r));
                console.error("err " + task.id + " " + i);
                await new Promise((r) => setTimeout(r, Math.random() * 10));
                process.stdout.write("raw " + task.id + " " + i + "\\n");
              }
            },
          });`,
      },
    });
    const ids = await enqueue(
      project,
      "chatty",
      Array.from({ length: 200 }, () => ({})),
    );
    const worker = work(project, ["--once"]);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 200,
      120_000,
      () => "all 200 succeeded",
      250,
    );
    const result = await worker;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    const tasks = await project.list(["--limit", "1000"]);
    expect(new Set(tasks.map((t) => t.worker?.pid)).size).toBe(1);
    expect(tasks.every((t) => t.status === "succeeded" && t.tries === 1)).toBe(true);
    // A sample across the batch: each log holds its own nine lines and nothing of another task's.
    for (const id of [ids[0]!, ids[57]!, ids[123]!, ids[199]!]) {
      const log = await project.cli(["logs", id]);
      expect(log.code, log.stderr).toBe(0);
      const lines = log.stdout.trim().split("\n");
      const mine = lines.filter((line) => /(out|err|raw) \d+ \d/.test(line));
      expect(
        mine
          .map((line) =>
            line
              .match(/(out|err|raw) (\d+) (\d)/)!
              .slice(1)
              .join(" "),
          )
          .sort(),
      ).toEqual([0, 1, 2].flatMap((i) => [`out ${id} ${i}`, `err ${id} ${i}`, `raw ${id} ${i}`]).sort());
    }
  }, 180_000);

  it("`run` starts the workers the work calls for: 30 waiting at concurrency 20 over 2 workers run 20 at once in 2; one more with places free starts none", async () => {
    const project = useProject(onTestFinished, { config: { concurrency: 20, workers: 2 }, tasks: { "gated.js": GATED } });
    const file = join(project.dir, "batch.jsonl");
    writeFileSync(file, Array.from({ length: 30 }, () => JSON.stringify({ dir: project.dir })).join("\n"));
    const batch = await project.cli(["run", "gated", "--each", file]);
    expect(batch.code, batch.stderr).toBe(0);
    await waitFor(
      async () => (await running(project)).length === 20,
      60_000,
      () => "20 running",
    );
    const pids = new Set((await running(project)).map((t) => t.worker!.pid));
    expect(pids.size).toBe(2);
    expect(project.workers().sort()).toEqual([...pids].sort());
    // Both are full, and neither is short of work: nothing more to start.
    await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir })]);
    expect(project.workers().length).toBe(2);
    writeFileSync(join(project.dir, "release"), "");
    await waitFor(
      async () => (await project.list(["--status", "succeeded", "--limit", "100"])).length === 31,
      60_000,
      () => "all 31 succeeded",
    );
    expect((await project.list(["--limit", "100"])).every((t) => t.tries === 1)).toBe(true);
  }, 120_000);

  it("a worker with places free takes a new task itself: `run` starts no second worker for it", async () => {
    const project = useProject(onTestFinished, { config: { concurrency: 20, workers: 2 }, tasks: { "gated.js": GATED } });
    const first = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir })]);
    const worker = (await project.waitForTask(first, (t) => t.status === "running")).worker!.pid;
    const second = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir })]);
    expect((await project.waitForTask(second, (t) => t.status === "running")).worker!.pid).toBe(worker);
    expect(project.workers()).toEqual([worker]);
    // `status` names the place: the worker's slot, and how many tries it runs now.
    const slots = JSON.parse((await project.cli(["workers", "--json"])).stdout) as Array<{ slot: string; pid: number | null }>;
    const slot = slots.find((s) => s.pid === worker)!.slot;
    expect((await project.cli(["status", second])).stdout).toMatch(new RegExp(`\\nworker +pid ${worker} on \\S+, slot ${slot} \\(its 2 tries now\\)\\n`));
    writeFileSync(join(project.dir, "release"), "");
    for (const id of [first, second]) expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded" });
  }, 60_000);

  it("cancels one of 50 running tries: only it stops, the 49 others run on in the same worker and succeed", async () => {
    const project = useProject(onTestFinished, { config: { concurrency: 50, workers: 1 }, tasks: { "gated.js": GATED } });
    const ids = await enqueue(
      project,
      "gated",
      Array.from({ length: 50 }, () => ({})),
    );
    work(project, []);
    await waitFor(
      async () => (await running(project)).length === 50,
      60_000,
      () => "50 running",
      250,
    );
    const pid = (await project.status(ids[0]!)).worker!.pid;
    // `workers` shows the one worker with its 50 places in use.
    const workers = JSON.parse((await project.cli(["workers", "--json"])).stdout) as Array<{ pid: number; running: number }>;
    expect(workers.map((w) => [w.pid, w.running])).toEqual([[pid, 50]]);
    expect((await project.cli(["workers"])).stdout).toMatch(/50 tasks \(\d+ gated …\)/);
    const victim = ids[17]!;
    const cancelled = await project.cli(["cancel", victim]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${victim} cancelled` });
    expect(await project.status(victim)).toMatchObject({ status: "cancelled", tries: 1 });
    const others = await running(project);
    expect(others.map((t) => t.id).sort()).toEqual(ids.filter((id) => id !== victim).sort());
    expect(others.every((t) => t.worker!.pid === pid)).toBe(true);
    writeFileSync(join(project.dir, "release"), "");
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 49,
      60_000,
      () => "49 succeeded",
      250,
    );
    for (const task of await project.list(["--limit", "100"])) {
      expect(task).toMatchObject(task.id === victim ? { status: "cancelled", tries: 1 } : { status: "succeeded", tries: 1 });
    }
    expect(alive(pid)).toBe(true);
  }, 120_000);

  it("a try that ignores its signal past its timeout is recorded at the grace; its neighbours run on; the worker is then replaced", async () => {
    const project = useProject(onTestFinished, {
      config: { concurrency: 10, workers: 1 },
      env: { BGTASK_GRACE: "2s" },
      tasks: {
        "gated.js": GATED,
        // Never settles and never looks at its signal, but leaves the event loop free.
        "stubborn.js": `
          import { defineTask } from "bgtask";
          export default defineTask({ timeout: "1s", run: () => new Promise(() => {}) });`,
      },
    });
    const neighbours = await enqueue(
      project,
      "gated",
      Array.from({ length: 5 }, () => ({})),
    );
    const stubborn = await project.run("stubborn", ["--no-worker"]);
    work(project, []);
    const first = await project.waitForTask(stubborn, (t) => t.status === "running");
    const pid = first.worker!.pid;
    const ended = await project.waitForTask(stubborn, (t) => t.completed, 30_000);
    expect(ended).toMatchObject({ status: "failed", tries: 1, message: expect.stringMatching(/timed out after 1s.*did not stop within 2s/) });
    // Recorded at the grace (timeout + 2s), not when some other try or worker ended.
    expect(Date.parse(ended.finishedAt!) - Date.parse(ended.startedAt!)).toBeLessThan(10_000);
    // Its neighbours were untouched: still running in the same worker.
    const others = await running(project);
    expect(others.map((t) => t.id).sort()).toEqual([...neighbours].sort());
    expect(others.every((t) => t.worker!.pid === pid)).toBe(true);
    expect(alive(pid)).toBe(true);
    // The worker takes nothing new meanwhile: a task enqueued now waits for its replacement.
    const later = await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir })]);
    writeFileSync(join(project.dir, "release"), "");
    for (const id of neighbours) expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 1 });
    await waitFor(
      () => !alive(pid),
      30_000,
      () => `worker ${pid} still alive`,
    );
    const after = await project.waitForTask(later, (t) => t.completed, 30_000);
    expect(after).toMatchObject({ status: "succeeded", tries: 1 });
    const ranIn = readFileSync(join(project.dir, "ledger.txt"), "utf8").match(new RegExp(`^${later} (\\d+)$`, "m"))![1];
    expect(Number(ranIn)).not.toBe(pid);
  }, 120_000);

  it("a worker SIGKILLed with 50 tries in flight: each is recovered once, its try counted once, and succeeds on the next", async () => {
    const project = useProject(onTestFinished, { config: { concurrency: 50, workers: 1 }, tasks: { "gated.js": GATED } });
    const queued = await enqueue(
      project,
      "gated",
      Array.from({ length: 49 }, () => ({})),
    );
    // Started by `run`, as users start them: a detached worker.
    const ids = [...queued, await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir })])];
    await waitFor(
      async () => (await running(project)).length === 50,
      60_000,
      () => "50 running",
      250,
    );
    const [pid] = project.workers();
    expect(project.workers()).toHaveLength(1);
    process.kill(pid!, "SIGKILL");
    await waitFor(
      () => !alive(pid!),
      10_000,
      () => `worker ${pid} still alive`,
    );
    writeFileSync(join(project.dir, "release"), "");
    // The next command that starts a worker has the dead one's tries recovered.
    await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir })]);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 51,
      60_000,
      () => "all succeeded",
      250,
    );
    const counts = ledgerCounts(project);
    const tasks = new Map((await project.list()).map((task) => [task.id, task]));
    for (const id of ids) {
      const task = tasks.get(id)!;
      expect(task).toMatchObject({ status: "succeeded", tries: 2 });
      expect(task.history.map((h) => h.status)).toEqual(["failed", "succeeded"]);
      expect(counts.get(id)).toBe(2);
    }
  }, 120_000);

  it("serial keys and executor limits hold across 50 places × 3 workers", async () => {
    const body = (settings: string) => `
      import { appendFileSync } from "node:fs";
      import { join } from "node:path";
      import { defineTask } from "bgtask";
      export default defineTask({
        ${settings}
        async run(task) {
          const ledger = join(task.context.dir, "overlaps.txt");
          appendFileSync(ledger, "start " + task.context.lane + "\\n");
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
          appendFileSync(ledger, "end " + task.context.lane + "\\n");
        },
      });`;
    const project = useProject(onTestFinished, {
      config: { concurrency: 150, workers: 3 },
      tasks: {
        "limited.js": body("concurrency: 3,"),
        "keyed.js": body("serialKey: (context) => context.key,"),
        "free.js": body(""),
      },
    });
    await enqueue(
      project,
      "free",
      Array.from({ length: 150 }, () => ({ lane: "free" })),
    );
    await enqueue(
      project,
      "limited",
      Array.from({ length: 60 }, () => ({ lane: "limited" })),
    );
    await enqueue(
      project,
      "keyed",
      Array.from({ length: 60 }, (_, i) => ({ key: `k${i % 3}`, lane: `k${i % 3}` })),
    );
    // Not --once: on PostgreSQL a worker whose claim finds the last rows locked by another's claim would leave early.
    work(project, []);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 270,
      120_000,
      () => "270 succeeded",
      250,
    );
    const inFlight = new Map<string, number>();
    const most = new Map<string, number>();
    let free = 0;
    let mostFree = 0;
    for (const line of readFileSync(join(project.dir, "overlaps.txt"), "utf8").trim().split("\n")) {
      const [what, lane] = line.split(" ");
      const step = what === "start" ? 1 : -1;
      if (lane === "free") {
        free += step;
        mostFree = Math.max(mostFree, free);
        continue;
      }
      inFlight.set(lane!, (inFlight.get(lane!) ?? 0) + step);
      most.set(lane!, Math.max(most.get(lane!) ?? 0, inFlight.get(lane!)!));
    }
    expect(Object.fromEntries(most)).toEqual({ limited: 3, k0: 1, k1: 1, k2: 1 });
    // Plain tasks did run many at once: the places were there to fill.
    expect(mostFree).toBeGreaterThan(10);
  }, 180_000);
});

for (const isolation of ["process", "thread"] as const) {
  const noun = isolation === "process" ? "its process" : "its thread";
  describeOnJournals(`isolation: ${isolation}`, () => {
    it("runs its tries in sandboxes beside inline ones: an exit, an uncaught error or a busy loop past its timeout ends that try alone", async () => {
      const project = useProject(onTestFinished, {
        // The others by their definition, the busy loop by the config's executors key.
        config: { concurrency: 10, workers: 1, executors: { spins: { isolation } } },
        env: { BGTASK_GRACE: "1s" },
        tasks: {
          "gated.js": GATED,
          "exits.js": `
            import { threadId } from "node:worker_threads";
            import { defineTask } from "bgtask";
            export default defineTask({ isolation: "${isolation}", async run(task) { console.log("sandbox " + process.pid + " " + threadId); await task.progress(40, "halfway"); process.exit(3); } });`,
          "throws.js": `
            import { defineTask } from "bgtask";
            export default defineTask({ isolation: "${isolation}", run() { setTimeout(() => { throw new Error("boom"); }, 10); return new Promise(() => {}); } });`,
          // Leaves a timer running: its sandbox must not keep the try waiting.
          "lingers.js": `
            import { defineTask } from "bgtask";
            export default defineTask({ isolation: "${isolation}", run() { setInterval(() => {}, 1000); return { message: "left a timer" }; } });`,
          "spins.js": `
            import { defineTask } from "bgtask";
            export default defineTask({ timeout: "1s", run() { for (;;) {} } });`,
        },
      });
      const neighbours = await enqueue(
        project,
        "gated",
        Array.from({ length: 3 }, () => ({})),
      );
      const exits = await project.run("exits", ["--no-worker"]);
      const throws = await project.run("throws", ["--no-worker"]);
      const lingers = await project.run("lingers", ["--no-worker"]);
      const spins = await project.run("spins", ["--no-worker"]);
      work(project, []);
      const crashed = await project.waitForTask(exits, (t) => t.completed);
      expect(crashed).toMatchObject({ status: "failed", tries: 1, progress: 40, message: `${noun} exited (code 3) before the try ended` });
      expect(await project.waitForTask(throws, (t) => t.completed)).toMatchObject({
        status: "failed",
        message: expect.stringContaining("before the try ended"),
      });
      // A process prints its uncaught error on its stderr, a thread hands it over: the try's log has it either way.
      expect((await project.cli(["logs", throws])).stdout).toContain("boom");
      expect(await project.waitForTask(lingers, (t) => t.completed)).toMatchObject({ status: "succeeded", message: "left a timer" });
      const log = await project.cli(["logs", exits]);
      const [, pid, thread] = /stdout sandbox (\d+) (\d+)/.exec(log.stdout)!;
      const worker = (await project.waitForTask(neighbours[0]!, (t) => t.status === "running")).worker!.pid;
      // A child process of its own, or a thread of the worker's.
      if (isolation === "process") expect(Number(pid)).not.toBe(worker);
      else expect([Number(pid), Number(thread) > 0]).toEqual([worker, true]);
      expect(await project.waitForTask(spins, (t) => t.completed)).toMatchObject({
        status: "failed",
        tries: 1,
        message: expect.stringMatching(/timed out after 1s/),
      });
      // The busy loop ran in its sandbox: the inline neighbours and their worker ran on, and it was not renewed.
      const others = await project.list(["--status", "running"]);
      expect(others.map((t) => t.id).sort()).toEqual([...neighbours].sort());
      const later = await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir })]);
      await project.waitForTask(later, (t) => t.status === "running");
      writeFileSync(join(project.dir, "release"), "");
      for (const id of [...neighbours, later]) expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 1 });
      expect(
        readFileSync(join(project.dir, "ledger.txt"), "utf8")
          .trim()
          .split("\n")
          .map((line) => Number(line.split(" ")[1])),
      ).toEqual([worker, worker, worker, worker]);
      expect(alive(worker)).toBe(true);
    }, 90_000);
  });
}

describeOnJournals("a worker renewed", () => {
  const NOTES_PID = `
    import { appendFileSync } from "node:fs";
    import { join } from "node:path";
    import { defineTask } from "bgtask";
    export default defineTask({
      async run(task) {
        appendFileSync(join(task.context.dir, "ledger.txt"), task.id + " " + process.pid + "\\n");
        await new Promise((r) => setTimeout(r, 20));
      },
    });`;

  /** How many tries each worker process ran, from the ledger. */
  function perWorker(project: Project): number[] {
    const counts = new Map<string, number>();
    for (const line of readFileSync(join(project.dir, "ledger.txt"), "utf8").trim().split("\n")) {
      const pid = line.split(" ")[1]!;
      counts.set(pid, (counts.get(pid) ?? 0) + 1);
    }
    return [...counts.values()];
  }

  it("after maxTasksPerWorker tries takes no more, and a new worker takes over", async () => {
    const project = useProject(onTestFinished, { config: { concurrency: 2, workers: 1, maxTasksPerWorker: 5 }, tasks: { "note.js": NOTES_PID } });
    const file = join(project.dir, "each.jsonl");
    writeFileSync(file, Array.from({ length: 12 }, () => JSON.stringify({ dir: project.dir })).join("\n"));
    expect((await project.cli(["run", "note", "--each", file])).code).toBe(0);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 12,
      60_000,
      () => "12 succeeded",
      250,
    );
    const counts = perWorker(project);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(12);
    expect(Math.max(...counts)).toBeLessThanOrEqual(5);
    expect(counts.length).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it("past maxWorkerMemoryMb takes no more, and a new worker takes over", async () => {
    // Every worker is past 32 MB once it has run a try: each runs one, or the ones it started with.
    const project = useProject(onTestFinished, { config: { concurrency: 1, maxWorkerMemoryMb: 32 }, tasks: { "note.js": NOTES_PID } });
    const file = join(project.dir, "each.jsonl");
    writeFileSync(file, Array.from({ length: 3 }, () => JSON.stringify({ dir: project.dir })).join("\n"));
    expect((await project.cli(["run", "note", "--each", file])).code).toBe(0);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === 3,
      60_000,
      () => "3 succeeded",
      250,
    );
    expect(perWorker(project)).toEqual([1, 1, 1]);
    expect(readFileSync(join(project.home, "logs", "worker.log"), "utf8")).toMatch(
      /uses \d+ MB \(maxWorkerMemoryMb 32\): taking no more tasks; a new worker takes over/,
    );
  }, 90_000);
});

describeOnJournals("the mail-out", () => {
  it("2,000 tasks that each wait 50 ms on the network, at concurrency 50 (figures, not assertions)", async () => {
    const project = useProject(onTestFinished, {
      config: { concurrency: 50 },
      tasks: {
        "send.js": `
          import { defineTask } from "bgtask";
          export default defineTask({ run: () => new Promise((r) => setTimeout(r, 50)) });`,
      },
    });
    const file = join(project.dir, "mails.jsonl");
    writeFileSync(file, Array.from({ length: 2000 }, (_, i) => JSON.stringify({ to: `user${i}@example.com` })).join("\n"));
    const started = Date.now();
    const run = await project.cli(["run", "send", "--each", file]);
    expect(run.code, run.stderr).toBe(0);
    let peakRss = 0;
    let peakWorkers = 0;
    await waitFor(
      async () => {
        const workers = project.workers();
        peakWorkers = Math.max(peakWorkers, workers.length);
        let rss = 0;
        for (const pid of workers) {
          try {
            rss += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;
          } catch {
            // gone
          }
        }
        peakRss = Math.max(peakRss, rss);
        return (await project.list(["--status", "queued,running", "--limit", "1"])).length === 0;
      },
      180_000,
      () => "all sent",
      500,
    );
    const wallMs = Date.now() - started;
    expect(await project.list(["--status", "succeeded"])).toHaveLength(2000);
    const line = `[mail-out ${project.journal}] 2000 × 50 ms at concurrency 50: ${(wallMs / 1000).toFixed(1)} s, ${Math.round(2000 / (wallMs / 1000))}/s, ${peakWorkers} workers, peak RSS ${Math.round(peakRss / 1024 / 1024)} MB`;
    console.log(line);
  }, 240_000);
});
