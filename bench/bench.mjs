#!/usr/bin/env node
// `npm run bench [-- --quick]`: measures bgtask against its targets (issue 6) and prints a table of
// figures, each the median of several runs with min–max and its ratio to the floor N (`node -e ''`,
// measured in the same run). Exits non-zero only when something could not be measured.
//
//   --quick            small history sizes (6 s of building each), fewer runs, short drains; never apt-get installs
//   --sizes 1000,5000  history sizes to measure at (default 1000,100000; quick 1000,10000)
//   --depths 100000    queue depths to measure at (default 100000,1000000; quick 10000)
//   --reps N           runs per CLI figure (default 7; quick 3)
//   --no-peers         skip the tsp / nq side by side
//   --no-install       never apt-get install task-spooler / nq
//   --markdown FILE    also write the table as Markdown
//   --keep             keep the temp folder (printed) for inspection
//   --jitter-slots N   slots of the 1-second schedule timed for the jitter row (default 30; quick 5)
//   --only io          only the I/O-bound rows: 5,000 tasks of a 50 ms wait at 50 at once (file, and PostgreSQL when named)
//
// With BGTASK_BENCH_PG (or BGTASK_TEST_PG) naming a PostgreSQL database, it adds the PostgreSQL
// journal's rows: `run`, the drain at concurrency 2 and 10, enqueue → start; and graphile-worker's
// drain and latency on the same database.
//
// Besides history sizes it measures at queue depths (full: 100,000 and 1,000,000 queued; quick:
// 10,000): run, list, status, a bulk enqueue onto the deep queue, the drain from it, worker RSS.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { installOnce } from "../scripts/install-once.mjs";
import { ALL, BenchProject, WORKER } from "./lib/project.mjs";
import { bgtaskRun, ensurePeers, nqRun, tspRun } from "./lib/peers.mjs";
import { GNU_TIME, processesWith, removeRssFiles, run, signalAll } from "./lib/proc.mjs";
import { Scenarios } from "./lib/scenarios.mjs";
import { formatCount, median, Results } from "./lib/table.mjs";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    sizes: { type: "string" },
    depths: { type: "string" },
    reps: { type: "string" },
    "no-peers": { type: "boolean", default: false },
    "no-install": { type: "boolean", default: false },
    markdown: { type: "string" },
    keep: { type: "boolean", default: false },
    "jitter-slots": { type: "string" },
    only: { type: "string" },
  },
});

const FULL = {
  name: "full",
  sizes: [1_000, 100_000],
  historyBudgetMs: Infinity,
  floorReps: 10,
  cliReps: 7,
  rssReps: 3,
  bulkCount: 10_000,
  heavyReps: 3,
  drainCapMs: 60_000,
  stormReports: 100_000,
  stormReps: 3,
  peerJobs: 900,
  peerReps: 3,
  peerIdle: "2s",
  install: true,
  depths: [100_000, 1_000_000],
  depthChunk: 100_000,
  depthBudgetMs: 20 * 60_000,
  depthReps: 3,
  depthDrainMs: 20_000,
  jitterSlots: 30,
};
const QUICK = {
  name: "quick",
  sizes: [1_000, 10_000],
  historyBudgetMs: 6_000,
  floorReps: 5,
  cliReps: 3,
  rssReps: 1,
  bulkCount: 2_000,
  heavyReps: 1,
  drainCapMs: 3_000,
  stormReports: 100_000,
  stormReps: 1,
  peerJobs: 20,
  peerReps: 1,
  peerIdle: "300ms",
  install: false,
  depths: [10_000],
  depthChunk: 10_000,
  depthBudgetMs: 60_000,
  depthReps: 2,
  depthDrainMs: 3_000,
  jitterSlots: 5,
};

const mode = { ...(args.quick ? QUICK : FULL) };
if (args.sizes) mode.sizes = args.sizes.split(",").map(Number);
if (args.depths) mode.depths = args.depths.split(",").map(Number);
if (args.reps) mode.cliReps = Number(args.reps);
if (args["no-install"]) mode.install = false;
if (args["jitter-slots"]) mode.jitterSlots = Number(args["jitter-slots"]);
const withPeers = !args["no-peers"];

const began = Date.now();
const loadAtStart = loadavg()[0];
const log = (message) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);

if (!existsSync(WORKER)) {
  process.stderr.write(`bench: ${WORKER} is missing; run \`npm run build\` first (npm run bench does)\n`);
  process.exit(1);
}
if ([...mode.sizes, ...mode.depths, mode.jitterSlots].some((s) => !Number.isInteger(s) || s < 1) || !(mode.cliReps >= 1)) {
  process.stderr.write("bench: --sizes and --depths take whole numbers like 1000,100000 and --reps a number ≥ 1\n");
  process.exit(2);
}

const runDir = mkdtempSync(join(tmpdir(), "bgtask-bench-"));
const marker = runDir;
const results = new Results();

/** Ends every process this run started (all carry BGTASK_BENCH_RUN=<runDir>), then removes the folder. */
function cleanup() {
  signalAll(processesWith(`BGTASK_BENCH_RUN=${marker}`), "SIGKILL");
  removeRssFiles();
  if (!args.keep) rmSync(runDir, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    log(`${signal}: stopping, cleaning up`);
    process.exit(130);
  });
}

const ctx = { runDir, marker, mode, results, log };
const scenarios = new Scenarios(ctx);

const pgUrl = process.env.BGTASK_BENCH_PG ?? process.env.BGTASK_TEST_PG;
// graphile-worker, the PostgreSQL rows' yardstick, is the bench's own dependency (bench/package.json),
// not the clone's (issue 25): installed on the first run with a database, before anything is timed.
if (pgUrl) {
  try {
    installOnce(fileURLToPath(new URL(".", import.meta.url)), "graphile-worker (the PostgreSQL rows' yardstick)");
  } catch {
    process.stderr.write("bench: npm ci in bench/ failed (above); the PostgreSQL rows need graphile-worker, or run without BGTASK_BENCH_PG / BGTASK_TEST_PG\n");
    process.exit(1);
  }
}
log(`${mode.name} bench in ${runDir}${args.keep ? " (kept)" : ""}`);
await scenarios.floor(mode.floorReps);

/**
 * The I/O-bound rows (issue 23): on each journal, the 50 at once in one worker and in the default
 * two; and on the file journal in one worker with the docs' OpenTelemetry set-up (issue 24's cost).
 */
async function ioBoundRows() {
  const schemaUrl = (name) => `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}schema=bench_${process.pid}_${name}`;
  const dropSchema = async (name) => {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query(`drop schema if exists "bench_${process.pid}_${name}" cascade`).finally(() => client.end());
  };
  await scenarios.ioBound({ workers: 1, otel: true });
  for (const workers of [1, 2]) {
    await scenarios.ioBound({ workers });
    if (!pgUrl) continue;
    try {
      await scenarios.ioBound({ workers, journalUrl: schemaUrl(`io${workers}`) });
    } finally {
      await dropSchema(`io${workers}`);
    }
  }
  if (!pgUrl) {
    results.note("PostgreSQL I/O-bound rows skipped: BGTASK_BENCH_PG (or BGTASK_TEST_PG) names no database");
    return;
  }
  // graphile-worker beside them on the same database: one process, 50 at once, as its users run it.
  const { GRAPHILE_SHAPES, graphileDrain } = await import("./lib/graphile.mjs");
  for (const shape of ["default", "batched"]) {
    const schema = `graphile_io_${shape}`;
    const label = `graphile-worker: 5,000 jobs of a 50 ms wait, concurrency 50${shape === "batched" ? " (localQueue 500, batched completes)" : ""}`;
    try {
      const rate = await graphileDrain({
        connectionString: pgUrl,
        schema: `bench_${process.pid}_${schema}`,
        count: 5_000,
        concurrency: 50,
        shape: GRAPHILE_SHAPES[shape],
        timeoutMs: 120_000,
        job: () => new Promise((resolve) => setTimeout(resolve, 50)),
      });
      results.add({ label: `${label}: rate`, history: "—", values: [rate], unit: "rate" });
    } catch (error) {
      results.fail(label, "—", error);
    } finally {
      await dropSchema(schema);
    }
  }
}

if (args.only !== undefined && args.only !== "io") {
  process.stderr.write(`bench: --only takes "io", not "${args.only}"\n`);
  process.exit(2);
}
if (args.only === "io") {
  await ioBoundRows();
  await finish();
  process.exit();
}

// One project grows its history size by size; each size is snapshotted and every scenario runs
// on its own copy of that snapshot.
const historyProject = new BenchProject(join(runDir, "history"), marker, { concurrency: 2 });
const sizes = [];
for (const [index, target] of mode.sizes.entries()) {
  let built;
  try {
    built = await scenarios.buildHistory(historyProject, target, Date.now() + mode.historyBudgetMs);
  } catch (error) {
    log(`building the history: ${error.stack ?? error}`);
    results.fail(`history of ${formatCount(target)} tasks`, formatCount(target), error);
    break;
  }
  const reached = scenarios.count;
  if (sizes.length && reached === sizes.at(-1).count) {
    results.note(`history size ${formatCount(target)} skipped: no task added within the history budget`);
    break;
  }
  const label = reached < target ? `${formatCount(reached)}*` : formatCount(reached);
  if (reached < target)
    results.note(
      `* history of ${formatCount(reached)}, not ${formatCount(target)}: --quick gives each size ${mode.historyBudgetMs / 1000} s of history building`,
    );
  if (built.added > 0) {
    results.add({ label: "history build: drain rate (batches, 2 workers)", history: label, values: [built.added / built.seconds], unit: "rate" });
  }
  const snapshot = join(runDir, `snapshot-${reached}`);
  historyProject.snapshot(snapshot);
  sizes.push({ count: reached, label });
  log(`measuring at ${label} tasks of history`);
  await scenarios.cli(snapshot, label);
  await scenarios.bulkAndDrain(snapshot, label, index === 0);
  await scenarios.storm(snapshot, label);
  rmSync(snapshot, { recursive: true, force: true });
}
historyProject.kill();

log("measuring at depth: tasks queued, not drained");
await scenarios.depth();

log(`schedule jitter: ${mode.jitterSlots} slots of a 1-second schedule`);
try {
  // One worker, up for the schedule (a no-op task started it); each slot's task is a no-op.
  const project = new BenchProject(join(runDir, "jitter"), marker, {
    concurrency: 1,
    schedules: [{ name: "every-second", cron: "* * * * * *", executor: "noop" }],
  });
  try {
    await project.cli(["run", "noop"]);
    const deadline = Date.now() + (mode.jitterSlots + 30) * 1_000;
    let fired = [];
    // The first slot is fired as the worker starts: not a measure of how late a waiting worker is.
    while (fired.length < mode.jitterSlots + 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const tasks = JSON.parse((await project.cli(["list", "--json", "--limit", ALL])).stdout);
      fired = tasks.filter((t) => t.schedule && t.startedAt).sort((a, b) => (a.schedule.slot < b.schedule.slot ? -1 : 1));
    }
    const late = fired.slice(1, mode.jitterSlots + 1).map((t) => Date.parse(t.startedAt) - Date.parse(t.schedule.slot));
    if (late.length < mode.jitterSlots) throw new Error(`only ${late.length} of ${mode.jitterSlots} slots started within the time allowed`);
    results.add({ label: "schedule jitter: slot → its task's start (1 s schedule, worker waiting)", history: "—", values: late, unit: "ms" });
  } finally {
    project.kill();
    rmSync(project.dir, { recursive: true, force: true });
  }
} catch (error) {
  results.fail("schedule jitter", "—", error);
}

// PostgreSQL rows: on the database BGTASK_BENCH_PG names (or BGTASK_TEST_PG, which .ci/run starts),
// each scenario in a schema of its own, with graphile-worker 0.17.3 beside them on the same database.
if (!pgUrl) results.note("PostgreSQL rows skipped: BGTASK_BENCH_PG (or BGTASK_TEST_PG) names no database");
else {
  log("PostgreSQL journal: run, the drain at concurrency 2 and 10, enqueue → start");
  const { default: pg } = await import("pg");
  const { GRAPHILE_SHAPES, graphileDrain, graphileLatency } = await import("./lib/graphile.mjs");
  const schemaUrl = (name) => `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}schema=bench_${process.pid}_${name}`;
  const sql = async (text, values) => {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  };
  const project = new BenchProject(join(runDir, "postgres"), marker, { concurrency: 10 });
  const schemas = [];
  const journal = (name) => {
    schemas.push(`bench_${process.pid}_${name}`);
    return { BGTASK_JOURNAL: schemaUrl(name) };
  };
  try {
    const env = journal("run");
    await project.cli(["migrate"], { env });
    const times = [];
    const floors = [];
    for (let i = 0; i < mode.cliReps; i++) {
      floors.push((await run(process.execPath, ["-e", ""], {})).ms);
      times.push((await project.cli(["run", "noop", "--no-worker"], { env })).ms);
    }
    results.add({ label: "postgres: `run` (a task stored, no worker)", history: "—", values: times, floors, unit: "ms", perFloor: true });

    // 10,000 in the quick bench too: a deep enough queue to show what a claim costs at depth (2,000 hid a claim that sorted the whole queue).
    const count = 10_000;
    for (const concurrency of [2, 10]) {
      const drainEnv = journal(`drain${concurrency}`);
      await project.cli(["run", "noop", "--each", project.contexts(count), "--no-worker"], { env: drainEnv });
      const workers = Array.from({ length: concurrency }, () => project.startWorker({ env: { ...drainEnv, BGTASK_IDLE: "1s" } }));
      const schema = `bench_${process.pid}_drain${concurrency}`;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const [{ n }] = await sql(`select count(*)::int as n from "${schema}".tasks where status = 'succeeded'`);
        if (n >= count) break;
        if (Date.now() > deadline) throw new Error(`only ${n} of ${count} tasks drained in 120 s at concurrency ${concurrency}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // From the first start to the last end, as the records say: the workers' own start-up left out.
      const [{ first, last }] = await sql(`select min(record->>'startedAt') as first, max(record->>'finishedAt') as last from "${schema}".tasks`);
      results.add({
        label: `postgres: drain of ${formatCount(count)} no-op tasks, ${concurrency} workers`,
        history: "—",
        values: [count / ((Date.parse(last) - Date.parse(first)) / 1000)],
        unit: "rate",
      });
      await Promise.all(workers.map((w) => w.done));
    }

    const latencyEnv = journal("latency");
    await project.cli(["migrate"], { env: latencyEnv });
    const worker = project.startWorker({ env: { ...latencyEnv, BGTASK_IDLE: "60s" } });
    const latencies = [];
    for (let i = 0; i < Math.max(5, mode.cliReps * 2); i++) {
      const id = (await project.cli(["run", "noop", "--no-worker"], { env: latencyEnv })).stdout.trim();
      await project.cli(["wait", id, "--timeout", "30s"], { env: latencyEnv });
      const task = JSON.parse((await project.cli(["status", id, "--json"], { env: latencyEnv })).stdout);
      // The first one waits for the worker's start-up: left out.
      if (i > 0) latencies.push(Date.parse(task.startedAt) - Date.parse(task.createdAt));
    }
    results.add({ label: "postgres: enqueue → start (`bgtask run`, a worker waiting)", history: "—", values: latencies, unit: "ms" });
    // As graphile-worker's row measures it: from a process already connected (each `run` above connects first).
    const { createClient } = await import("../dist/client/index.js");
    const client = createClient({ root: project.dir, journal: latencyEnv.BGTASK_JOURNAL });
    const warm = [];
    try {
      for (let i = 0; i < Math.max(10, mode.cliReps * 5); i++) {
        const done = await client.wait((await client.run("noop", {}, { worker: false })).id, { timeout: "30s" });
        warm.push(Date.parse(done.startedAt) - Date.parse(done.createdAt));
      }
    } finally {
      await client.close();
    }
    results.add({ label: "postgres: enqueue → start (bgtask/client connected, a worker waiting)", history: "—", values: warm, unit: "ms" });
    project.stopWorkers();
    await worker.done;

    log("graphile-worker 0.17.3 on the same database: the drain (default and batched settings), enqueue → start");
    for (const [shape, concurrency] of [
      ["default", 2],
      ["default", 10],
      ["batched", 10],
    ]) {
      schemas.push(`bench_${process.pid}_graphile_${shape}${concurrency}`);
      const rate = await graphileDrain({
        connectionString: pgUrl,
        schema: schemas.at(-1),
        count,
        concurrency,
        shape: GRAPHILE_SHAPES[shape],
        timeoutMs: 120_000,
      });
      results.add({
        label: `graphile-worker: drain of ${formatCount(count)} no-op jobs, concurrency ${concurrency}${shape === "batched" ? " (localQueue 500, batched completes)" : ""}`,
        history: "—",
        values: [rate],
        unit: "rate",
      });
    }
    schemas.push(`bench_${process.pid}_graphile_latency`);
    const graphileLatencies = await graphileLatency({ connectionString: pgUrl, schema: schemas.at(-1), reps: Math.max(5, mode.cliReps * 2) });
    results.add({ label: "graphile-worker: enqueue → start (a worker waiting)", history: "—", values: graphileLatencies, unit: "ms" });
  } catch (error) {
    results.fail("postgres rows", "—", error);
  } finally {
    project.kill();
    for (const schema of schemas) await sql(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    rmSync(project.dir, { recursive: true, force: true });
  }
}

if (withPeers) {
  const jobs = mode.peerJobs;
  const peers = ensurePeers({ install: mode.install, log });
  const sideBySide = async (label, body, perCallLabel) => {
    const rates = [];
    const perCall = [];
    for (let rep = 0; rep < mode.peerReps; rep++) {
      const { e2eMs, perCall: calls } = await body(rep);
      rates.push(jobs / (e2eMs / 1000));
      perCall.push(median(calls));
    }
    results.add({ label: `${label}: ${formatCount(jobs)} jobs end to end`, history: "—", values: rates, unit: "rate" });
    if (perCallLabel) results.add({ label: perCallLabel, history: "—", values: perCall, unit: "ms", perFloor: true });
  };
  for (const [name, bin, body] of [
    ["tsp", peers.tsp, (rep) => tspRun(peers.tsp, join(runDir, `tsp-${rep}`), jobs, marker)],
    ["nq", peers.nq, (rep) => nqRun(peers.nq, join(runDir, `nq-${rep}`), jobs, marker)],
  ]) {
    if (!bin) {
      results.add({ label: `${name}: ${formatCount(jobs)} \`true\` jobs end to end`, history: "—", values: [], skipped: peers.why });
      continue;
    }
    log(`${name}: ${jobs} jobs × ${mode.peerReps}`);
    try {
      await sideBySide(`${name} (\`true\`)`, body, `${name}: one enqueue call`);
    } catch (error) {
      results.fail(`${name}: ${formatCount(jobs)} jobs end to end`, "—", error);
    }
  }
  for (const bulk of [false, true]) {
    const how = bulk ? "one bulk call" : "one call each";
    log(`bgtask, ${how}: ${jobs} tasks × ${mode.peerReps}`);
    try {
      await sideBySide(
        `bgtask (no-op, ${how})`,
        async (rep) => {
          const project = new BenchProject(join(runDir, `peer-bgtask-${bulk ? "bulk" : "each"}-${rep}`), marker, { concurrency: 2 });
          try {
            return await bgtaskRun(project, jobs, bulk, mode.peerIdle);
          } finally {
            project.kill();
            rmSync(project.dir, { recursive: true, force: true });
          }
        },
        bulk ? null : "bgtask: one enqueue call (`run`, worker running)",
      );
    } catch (error) {
      results.fail(`bgtask (${how}): ${formatCount(jobs)} tasks end to end`, "—", error);
    }
  }
}

await ioBoundRows();
await finish();

/** The floor once more, then the table. */
async function finish() {
  await scenarios.floor(mode.floorReps);
  const floor = scenarios.floors;
  const N = median(floor);

  const cpu = cpus();
  const header = [
    `bgtask bench (${mode.name}${mode.name === "quick" ? ": small history, fewer runs, drains capped at " + mode.drainCapMs / 1000 + " s — not the figures of the issue" : ""})`,
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC · node ${process.version} · ${cpu.length} × ${cpu[0]?.model?.trim() ?? "cpu"} · ${tmpdir()}`,
    `load average (1 min): ${loadAtStart.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end${Math.max(loadAtStart, loadavg()[0]) > cpu.length ? ` (above ${cpu.length} cores: other work competed with the bench)` : ""}`,
    `floor N = node -e '' = ${N.toFixed(0)} ms (median of ${floor.length}, ${Math.min(...floor).toFixed(0)}–${Math.max(...floor).toFixed(0)} ms); a time's ratio is to the floor runs made between its own runs`,
    `runs: ${mode.cliReps} per CLI figure after one warm-up; ${mode.heavyReps} bulk enqueue + drain; ${mode.stormReps} storm; peers ${mode.peerReps}${GNU_TIME ? "; RSS by GNU time" : "; RSS by polling VmHWM"}`,
  ];
  const notes = results.notes.map((n) => `note: ${n}`);
  process.stdout.write(`\n${header.join("\n")}\n\n${results.text(N)}\n${notes.length ? `\n${notes.join("\n")}\n` : ""}`);
  if (args.markdown) {
    writeFileSync(
      args.markdown,
      `${header.map((h) => `${h}  `).join("\n")}\n\n${results.markdown(N)}\n${notes.length ? `\n${notes.map((n) => `- ${n.slice(6)}`).join("\n")}\n` : ""}`,
    );
  }
  log(`done in ${((Date.now() - began) / 1000).toFixed(0)} s`);
  process.exitCode = results.failures > 0 ? 1 : 0;
}
