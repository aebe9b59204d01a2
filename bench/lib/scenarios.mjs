// What the bench measures on bgtask itself. Each scenario gets a fresh project folder whose home is
// restored from a snapshot taken after the history was built, so every run starts from the same state.
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { ALL, BenchProject, REPO } from "./project.mjs";
import { run, sleep } from "./proc.mjs";
import { formatCount, median } from "./table.mjs";

const MB = 1024;

/** Resolves true when `promise` settled within `ms`, false otherwise (the timer never outlives it). */
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes `project` export OpenTelemetry as the docs say (their otel.mjs as its preload, the SDK's
 * packages linked in) to a sink that answers every post; returns the env naming the sink, and its close.
 */
async function withOpenTelemetry(project) {
  symlinkSync(join(REPO, "node_modules", "@opentelemetry"), join(project.dir, "node_modules", "@opentelemetry"), "dir");
  const docs = readFileSync(join(REPO, "docs", "configuration.md"), "utf8");
  writeFileSync(join(project.dir, "otel.mjs"), /```js\n(\/\/ otel\.mjs[\s\S]*?)```/.exec(docs)[1]);
  const sink = createServer((request, response) => request.resume().on("end", () => response.writeHead(200).end("{}")));
  await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
  return { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}` }, close: () => sink.close() };
}

const atMost = (limit, text) => (m) => ({ text, ok: m <= limit });
const atMostN = (factor) => (m, floor) => ({ text: `≤ ${factor} N`, ok: m <= factor * floor });
const atLeast = (limit, text) => (m) => ({ text, ok: m >= limit });

export class Scenarios {
  /** @param ctx { runDir, marker, mode, results, log } */
  constructor(ctx) {
    this.ctx = ctx;
    this.count = 0;
    this.drainAtFirstSize = null;
    /** Every floor run of the bench, for the overall N. */
    this.floors = [];
  }

  project(name, config) {
    const dir = join(this.ctx.runDir, name);
    mkdirSync(dir, { recursive: true });
    return new BenchProject(dir, this.ctx.marker, config);
  }

  /** A scenario on a copy of `snapshot`: the project is ended and removed afterwards, whatever happens. */
  async scenario(name, snapshot, config, body) {
    const project = this.project(name, config);
    if (snapshot) project.restore(snapshot);
    try {
      return await body(project);
    } finally {
      project.stopWorkers();
      await project.waitIdle(10_000);
      rmSync(project.dir, { recursive: true, force: true });
    }
  }

  /**
   * The I/O-bound row (issue 23): `count` tasks each awaiting a 50 ms timer, `concurrency` at once
   * in `workers` worker processes (each running its share in its event loop), on the file journal
   * or on PostgreSQL (`journalUrl`). The rate runs from the first start to the last end, as the
   * records say; the memory is the workers' peak resident sets, added up. With `otel`, the workers
   * run the docs' OpenTelemetry set-up, and bgtask's spans and metrics are exported.
   */
  async ioBound({ count = 5_000, concurrency = 50, workers = 1, journalUrl = null, otel = false } = {}) {
    const { results, log } = this.ctx;
    const where = journalUrl ? "postgres" : "file";
    const label = `${where}: ${formatCount(count)} tasks of a 50 ms wait, ${concurrency} at once in ${workers} worker${workers > 1 ? "s" : ""}${otel ? ", OpenTelemetry exported" : ""}`;
    log(label);
    try {
      const config = { concurrency, workers, ...(otel ? { preload: "./otel.mjs" } : {}) };
      await this.scenario(`io-${where}-${workers}${otel ? "-otel" : ""}`, null, config, async (project) => {
        project.writeTask(
          "wait50.js",
          'import { defineTask } from "bgtask";\nexport default defineTask({ run: () => new Promise((r) => setTimeout(r, 50)) });\n',
        );
        const telemetry = otel ? await withOpenTelemetry(project) : null;
        const env = { ...(journalUrl ? { BGTASK_JOURNAL: journalUrl } : {}), BGTASK_IDLE: "1s", ...telemetry?.env };
        await project.cli(["run", "wait50", "--each", project.contexts(count), "--no-worker"], { env });
        const flags = otel ? ["--import", "./otel.mjs"] : [];
        const started = Array.from({ length: workers }, () => project.startWorker({ env, rss: true, flags }));
        const ended = await Promise.all(started.map((worker) => worker.done));
        telemetry?.close();
        const tasks = JSON.parse((await project.cli(["list", "--json", "--limit", ALL], { env })).stdout);
        const done = tasks.filter((t) => t.status === "succeeded");
        if (done.length !== count) throw new Error(`${done.length} of ${count} tasks succeeded`);
        const first = Math.min(...done.map((t) => Date.parse(t.startedAt)));
        const last = Math.max(...done.map((t) => Date.parse(t.finishedAt)));
        results.add({ label: `${label}: rate`, history: "—", values: [count / ((last - first) / 1000)], unit: "rate", target: atLeast(950, "≥ 950/s") });
        const rss = ended.map((worker) => worker.rssKb);
        if (rss.every((kb) => kb !== null)) {
          results.add({
            label: `${label}: workers' peak RSS`,
            history: "—",
            values: [rss.reduce((a, b) => a + b, 0) / MB],
            unit: "mb",
            target: atMost(100, "≤ 100 MB"),
          });
        }
      });
    } catch (error) {
      results.fail(label, "—", error);
    }
  }

  /** One `node -e ''`: the floor N, run beside every timed figure so that load on the machine hits both alike. */
  async floorOnce() {
    const { ms } = await run(process.execPath, ["-e", ""], { check: true });
    this.floors.push(ms);
    return ms;
  }

  async floor(reps) {
    for (let i = 0; i < reps; i++) await this.floorOnce();
  }

  /** Times `body` reps times after one warm-up run, each run just after a floor run: { values, floors } (ms). */
  async repeat(reps, body) {
    await body();
    const values = [];
    const floors = [];
    for (let i = 0; i < reps; i++) {
      floors.push(await this.floorOnce());
      values.push(await body());
    }
    return { values, floors };
  }

  /**
   * Grows the history of `project` to `target` finished tasks through the project's own bulk path:
   * `run noop --each FILE --no-worker`, then two workers drain it and retire. Batches are sized to
   * drain in a few seconds, so the active set stays small and the build does not crawl.
   */
  async buildHistory(project, target, deadline) {
    const { log } = this.ctx;
    let batch = Number.isFinite(deadline) ? 100 : 250;
    let rate = null;
    const started = Date.now();
    const from = this.count;
    while (this.count < target && Date.now() < deadline) {
      // Under a budget, the last batch is sized to end near the deadline instead of far past it.
      const fits = rate === null || !Number.isFinite(deadline) ? Infinity : Math.max(50, Math.floor((rate * (deadline - Date.now())) / 1000));
      const n = Math.min(batch, target - this.count, fits);
      await project.cli(["run", "noop", "--each", project.contexts(n), "--no-worker"], { timeoutMs: 600_000 });
      const t0 = Date.now();
      const workers = [0, 1].map(() => project.startWorker({ env: { BGTASK_IDLE: "100ms" }, timeoutMs: Math.max(300_000, n * 2_000) }));
      const ended = await Promise.all(workers.map((w) => w.done));
      if (ended.some((e) => e.code !== 0))
        throw new Error(`a worker building the history exited ${ended.map((e) => e.code ?? e.signal).join(", ")} (see ${project.home}/logs)`);
      rate = n / Math.max(0.001, (Date.now() - t0) / 1000);
      this.count += n;
      batch = Math.min(20_000, Math.max(100, Math.round(rate * 4)));
      log(`history ${formatCount(this.count)}/${formatCount(target)}: ${formatCount(n)} tasks drained at ${rate.toFixed(0)}/s`);
    }
    const left = JSON.parse((await project.cli(["list", "--status", "queued,running,scheduled,paused", "--json", "--limit", ALL])).stdout);
    if (left.length > 0) throw new Error(`${left.length} tasks were still active after building the history`);
    const seconds = (Date.now() - started) / 1000;
    log(`history of ${formatCount(this.count)} tasks ready (${formatCount(this.count - from)} added in ${seconds.toFixed(0)} s)`);
    return { seconds, added: this.count - from };
  }

  /** Runs one group of figures, recording a failure (not aborting the bench) when it cannot measure. */
  async group(label, history, body) {
    this.ctx.log(`${label} at ${history}`);
    try {
      await body();
    } catch (error) {
      this.ctx.log(`${label} (${history}): could not measure: ${error.stack ?? error}`);
      this.ctx.results.fail(label, history, error);
    }
  }

  /** `run`, `list` and `status` at this history size. */
  async cli(snapshot, history) {
    const { mode, results } = this.ctx;
    const reps = mode.cliReps;

    await this.group("bgtask run (worker running)", history, () =>
      this.scenario(`cli-running-${history}`, snapshot, { concurrency: 1 }, async (project) => {
        const registered = project.rev();
        project.startWorker({ env: { BGTASK_IDLE: "10m" } });
        const deadline = Date.now() + 20_000;
        while (project.rev() === registered && Date.now() < deadline) await sleep(20);
        // How long a task waits from its commit to its start when a worker is idle: the record's own times.
        const waits = [];
        for (const [executor, label] of [
          ["noop", "bgtask run (worker running)"],
          ["noop-ts", "bgtask run, .ts executor (worker running)"],
        ]) {
          const timed = await this.repeat(reps, async () => {
            const { ms, stdout } = await project.cli(["run", executor]);
            await project.settle();
            const task = JSON.parse((await project.cli(["status", stdout.trim(), "--json"])).stdout);
            if (task.startedAt) waits.push(Date.parse(task.startedAt) - Date.parse(task.createdAt));
            return ms;
          });
          results.add({ label, history, ...timed, unit: "ms", perFloor: true, target: atMostN(1.5) });
        }
        results.add({
          label: "enqueue → start, idle worker (createdAt → startedAt)",
          history,
          values: waits,
          unit: "ms",
          target: atMost(10, "median ≤ 10 ms"),
        });
        if (project.processes().length !== 1) results.note(`run (worker running, ${history}): a second worker was started during the runs`);
      }),
    );

    await this.group("bgtask run (spawns a worker)", history, () =>
      this.scenario(`cli-spawn-${history}`, snapshot, { concurrency: 1 }, async (project) => {
        let spawned = 0;
        const timed = await this.repeat(reps, async () => {
          const { ms } = await project.cli(["run", "noop"]);
          if (project.processes().length > 0) spawned += 1;
          if (!(await project.waitIdle(30_000))) throw new Error("the spawned worker did not retire within 30 s");
          return ms;
        });
        results.add({ label: "bgtask run (spawns a worker), parent's time", history, ...timed, unit: "ms", perFloor: true, target: atMostN(1.5) });
        if (spawned < reps + 1) results.note(`run (spawns a worker, ${history}): only ${spawned} of ${reps + 1} runs started a worker`);
      }),
    );

    await this.group("bgtask list / status", history, () =>
      this.scenario(`cli-read-${history}`, snapshot, { concurrency: 1 }, async (project) => {
        const list = await this.repeat(reps, async () => (await project.cli(["list"])).ms);
        results.add({ label: "bgtask list (default view)", history, ...list, unit: "ms", perFloor: true, target: atMostN(2) });
        const status = await this.repeat(reps, async () => (await project.cli(["status", "1"])).ms);
        results.add({ label: "bgtask status <id> of the oldest task", history, ...status, unit: "ms", perFloor: true, target: atMostN(2) });
        const rss = [];
        for (let i = 0; i < mode.rssReps; i++) {
          const { rssKb } = await project.cli(["list"], { rss: true });
          if (rssKb !== null) rss.push(rssKb / MB);
        }
        if (rss.length) results.add({ label: "bgtask list: peak RSS", history, values: rss, unit: "mb", target: atMost(100, "≤ 100 MB") });
      }),
    );
  }

  /** Bulk enqueue of mode.bulkCount tasks, then their drain by two workers, on the same copy. */
  async bulkAndDrain(snapshot, history, isFirstSize) {
    const { mode, results } = this.ctx;
    const count = mode.bulkCount;
    const enqueue = [];
    const enqueueFloors = [];
    const drain = [];
    const rss = [];
    const writesPerTask = [];
    let capped = 0;
    await this.group(`bulk enqueue + drain of ${formatCount(count)}`, history, async () => {
      for (let rep = 0; rep < mode.heavyReps; rep++) {
        await this.scenario(`drain-${history}-${rep}`, snapshot, { concurrency: 2 }, async (project) => {
          const file = project.contexts(count);
          enqueueFloors.push(await this.floorOnce());
          const bulk = await project.cli(["run", "noop", "--each", file, "--no-worker"], { timeoutMs: 600_000 });
          const ids = bulk.stdout.trim().split("\n");
          if (ids.length !== count) throw new Error(`run --each printed ${ids.length} ids for ${count} lines`);
          enqueue.push(bulk.ms);

          const rev0 = project.rev();
          const t0 = Date.now();
          const workers = [0, 1].map(() => project.startWorker({ rss: true, env: { BGTASK_IDLE: "200ms" } }));
          const all = Promise.all(workers.map((w) => w.done));
          if (!(await within(all, mode.drainCapMs))) {
            capped += 1;
            project.stopWorkers();
            if (!(await within(all, 60_000))) project.kill();
          }
          const ended = await all;
          const left = JSON.parse((await project.cli(["list", "--status", "queued,running", "--json", "--limit", ALL], { timeoutMs: 600_000 })).stdout).length;
          const newest = JSON.parse((await project.cli(["list", "--status", "succeeded,failed,cancelled", "--json", "--limit", "5"])).stdout);
          const finished = count - left;
          const last = Math.max(...newest.map((t) => Date.parse(t.finishedAt ?? t.createdAt)));
          if (finished <= 0 || !Number.isFinite(last))
            throw new Error(`the workers finished no task (exit ${ended.map((e) => e.code ?? e.signal).join(", ")})`);
          drain.push(finished / Math.max(0.001, (last - t0) / 1000));
          writesPerTask.push((project.rev() - rev0) / finished);
          const peak = Math.max(...ended.map((e) => e.rssKb ?? 0));
          if (peak > 0) rss.push(peak / MB);
          this.ctx.log(`drain ${history} #${rep + 1}: ${formatCount(finished)}/${formatCount(count)} in ${((last - t0) / 1000).toFixed(1)} s`);
        });
      }
    });
    if (enqueue.length) {
      results.add({
        label: `bulk enqueue of ${formatCount(count)} (run --each)`,
        history,
        values: enqueue,
        floors: enqueueFloors,
        unit: "ms",
        perFloor: true,
        target: atMost(1000, "≤ 1 s"),
      });
    }
    if (drain.length) {
      const label = `drain of ${formatCount(count)} by 2 workers${capped ? ` (capped at ${mode.drainCapMs / 1000} s in ${capped} of ${drain.length} runs)` : ""}`;
      const first = this.drainAtFirstSize;
      // Issue 10's target for 2 workers; the quick bench's 2,000 tasks include the workers' start-up.
      const target = isFirstSize
        ? atLeast(5000, "≥ 5,000/s (goal 20,000/s)")
        : (m) => ({ text: `≥ 5,000/s and ≥ 0.7 × first size (${(0.7 * (first ?? 0)).toFixed(0)}/s)`, ok: m >= 5000 && (first === null || m >= 0.7 * first) });
      const row = results.add({ label, history, values: drain, unit: "rate", target });
      if (isFirstSize) this.drainAtFirstSize = median(row.values);
      results.add({ label: "journal writes per drained task", history, values: writesPerTask, unit: "count" });
    }
    if (rss.length) results.add({ label: "worker peak RSS (drain)", history, values: rss, unit: "mb", target: atMost(80, "≤ 80 MB") });
  }

  /**
   * The queue's depth, not the history's: tasks queued and not drained. One project is filled to
   * each depth of mode.depths by bulk enqueues of mode.depthChunk (each one timed: "bulk enqueue at
   * depth"), then `run`, `list`, `status` are timed at that depth, and two workers drain from it for
   * mode.depthDrainMs. A depth that cannot be reached within mode.depthBudgetMs is reported as not
   * measured, with how far it got.
   */
  async depth() {
    const { mode, results, log } = this.ctx;
    const project = this.project("depth", { concurrency: 2 });
    const chunk = mode.depthChunk;
    const file = project.contexts(chunk, "depth-chunk.jsonl");
    let queued = 0;
    let firstId = null;
    try {
      for (const depth of mode.depths) {
        const label = `${formatCount(depth)} queued`;
        const deadline = Date.now() + mode.depthBudgetMs;
        const enqueues = [];
        let reached = true;
        while (queued < depth) {
          if (Date.now() > deadline) {
            reached = false;
            break;
          }
          const bulk = await project.cli(["run", "noop", "--each", file, "--no-worker"], { timeoutMs: mode.depthBudgetMs });
          firstId ??= bulk.stdout.slice(0, bulk.stdout.indexOf("\n"));
          enqueues.push(bulk.ms);
          queued += chunk;
          log(`depth ${formatCount(queued)}/${formatCount(depth)}: enqueue of ${formatCount(chunk)} took ${(bulk.ms / 1000).toFixed(1)} s`);
        }
        if (enqueues.length) {
          results.add({
            label: `bulk enqueue of ${formatCount(chunk)} onto a deep queue (last of the fill)`,
            history: label,
            values: enqueues.slice(-1),
            unit: "ms",
            target: atMost(3000, "≤ 3 s"),
          });
        }
        if (!reached) {
          results.fail(`depth of ${label}`, label, new Error(`only ${formatCount(queued)} queued within ${mode.depthBudgetMs / 1000} s`));
          break;
        }
        await this.group("run / list / status at depth", label, async () => {
          const reps = mode.depthReps;
          const runs = await this.repeat(reps, async () => (await project.cli(["run", "noop", "--no-worker"], { timeoutMs: 600_000 })).ms);
          results.add({ label: "bgtask run (queue deep)", history: label, ...runs, unit: "ms", perFloor: true, target: atMostN(1.5) });
          queued += reps + 1;
          const list = await this.repeat(reps, async () => (await project.cli(["list"], { timeoutMs: 600_000 })).ms);
          results.add({ label: "bgtask list (default view, queue deep)", history: label, ...list, unit: "ms", perFloor: true, target: atMostN(2) });
          const limited = await this.repeat(reps, async () => (await project.cli(["list", "--status", "queued", "--limit", "10"], { timeoutMs: 600_000 })).ms);
          results.add({
            label: "bgtask list --status queued --limit 10 (queue deep)",
            history: label,
            ...limited,
            unit: "ms",
            perFloor: true,
            target: atMostN(2),
          });
          const status = await this.repeat(reps, async () => (await project.cli(["status", firstId], { timeoutMs: 600_000 })).ms);
          results.add({ label: "bgtask status <id> of a queued task (queue deep)", history: label, ...status, unit: "ms", perFloor: true, target: atMostN(2) });
        });
        await this.group("drain from the deep queue", label, async () => {
          const before = project.finishedCount();
          const workers = [0, 1].map(() => project.startWorker({ rss: true, env: { BGTASK_IDLE: "200ms" } }));
          const t0 = Date.now();
          const all = Promise.all(workers.map((w) => w.done));
          await within(all, mode.depthDrainMs);
          const stoppedAt = Date.now();
          project.stopWorkers();
          // A worker deep in journal work may not obey SIGTERM soon (a target of its own): cut it off.
          if (!(await within(all, 60_000))) project.kill();
          const ended = await all;
          results.add({
            label: "SIGTERM → both workers gone (queue deep)",
            history: label,
            values: [Date.now() - stoppedAt],
            unit: "ms",
            target: atMost(1000, "≤ 1 s"),
          });
          const seconds = (Date.now() - t0) / 1000;
          const after = project.finishedCount();
          const finished = after - before;
          queued -= finished;
          const first = this.drainAtFirstSize;
          results.add({
            label: `drain from the deep queue by 2 workers (${mode.depthDrainMs / 1000} s window, stop included)`,
            history: label,
            values: [finished / seconds],
            unit: "rate",
            target: (m) => ({ text: `≥ 0.8 × shallow (${(0.8 * (first ?? 0)).toFixed(0)}/s)`, ok: first !== null && m >= 0.8 * first }),
          });
          const peak = Math.max(...ended.map((e) => e.rssKb ?? 0));
          if (peak > 0)
            results.add({ label: "worker peak RSS (queue deep)", history: label, values: [peak / MB], unit: "mb", target: atMost(100, "≤ 100 MB") });
        });
      }
    } finally {
      project.kill();
      rmSync(project.dir, { recursive: true, force: true });
    }
  }

  /** 100,000 awaited task.progress() calls from one task: how long, and how many journal writes. */
  async storm(snapshot, history) {
    const { mode, results } = this.ctx;
    const wall = [];
    const perSecond = [];
    const caused = [];
    await this.group("progress storm", history, async () => {
      for (let rep = 0; rep < mode.stormReps; rep++) {
        await this.scenario(`storm-${history}-${rep}`, snapshot, { concurrency: 1 }, async (project) => {
          // The writes any task costs (enqueue, worker slot, claim, settle, retire), to subtract.
          const before = project.rev();
          await project.cli(["run", "noop"]);
          if (!(await project.waitIdle(30_000))) throw new Error("the no-op task's worker did not retire");
          const base = project.rev() - before;

          const start = project.rev();
          const id = (await project.cli(["run", "storm", `reports=${mode.stormReports}`])).stdout.trim();
          if (!(await project.waitIdle(120_000))) throw new Error("the storm task's worker was still running after 120 s");
          const writes = project.rev() - start - base;
          const task = JSON.parse((await project.cli(["status", id, "--json"])).stdout);
          if (task.status !== "succeeded") throw new Error(`the storm task ended ${task.status}: ${task.error?.message ?? task.message}`);
          const ms = Date.parse(task.finishedAt) - Date.parse(task.startedAt);
          wall.push(ms);
          caused.push(writes);
          perSecond.push(writes / Math.max(1, ms / 1000));
        });
      }
    });
    const n = formatCount(mode.stormReports);
    if (wall.length) {
      results.add({ label: `progress storm (${n} reports): try's wall time`, history, values: wall, unit: "ms", target: atMost(2000, "≤ 2 s") });
      results.add({ label: "progress storm: journal writes it caused", history, values: caused, unit: "count" });
      results.add({ label: "progress storm: writes per second (per ≥1 s)", history, values: perSecond, unit: "rate", target: atMost(5, "≤ 5/s") });
    }
  }
}
