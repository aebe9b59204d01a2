#!/usr/bin/env node
// `node bench/drain.mjs`: the drain figure alone, for deciding journal changes. Builds (once) a
// history snapshot, then for each run: bulk enqueue of --count no-op tasks, --workers workers
// drain them; tasks/s = finished ÷ (last finishedAt − workers' start), as bench/lib/scenarios.mjs.
// Several --repo builds are measured interleaved (A, B, A, B, …) so machine load hits them alike.
//
//   --repo DIR       a built bgtask checkout to measure (repeatable; default this one)
//   --workers N      workers started for each drain (default 2; the project's concurrency too)
//   --count N        tasks per drain (default 10000)
//   --reps N         runs per repo (default 5)
//   --history N      finished tasks in the history first (default 1000)
//   --snapshot DIR   where the history snapshot is kept and reused (default a temp folder per size)
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    repo: { type: "string", multiple: true },
    workers: { type: "string", default: "2" },
    count: { type: "string", default: "10000" },
    reps: { type: "string", default: "5" },
    history: { type: "string", default: "1000" },
    snapshot: { type: "string" },
  },
});
const repos = (args.repo ?? [resolve(import.meta.dirname, "..")]).map((r) => resolve(r));
const workers = Number(args.workers);
const count = Number(args.count);
const reps = Number(args.reps);
const history = Number(args.history);
const snapshot = resolve(args.snapshot ?? join(tmpdir(), `bgtask-drain-history-${history}`));

const runDir = mkdtempSync(join(tmpdir(), "bgtask-drain-"));
const marker = `drain-${process.pid}`;
const ALL = "9999999";
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function load(repo) {
  const project = await import(join(repo, "bench/lib/project.mjs"));
  const scenarios = await import(join(repo, "bench/lib/scenarios.mjs"));
  return { BenchProject: project.BenchProject, Scenarios: scenarios.Scenarios };
}

async function buildSnapshot({ BenchProject, Scenarios }) {
  const ctx = { runDir, marker, mode: {}, results: null, log: (line) => console.error(line) };
  const scenarios = new Scenarios(ctx);
  const project = new BenchProject(join(runDir, "history"), marker, { concurrency: 2 });
  await scenarios.buildHistory(project, history, Infinity);
  project.snapshot(snapshot);
  rmSync(project.dir, { recursive: true, force: true });
}

async function drainOnce({ BenchProject }, name) {
  const project = new BenchProject(join(runDir, name), marker, { concurrency: workers });
  try {
    if (history > 0) project.restore(snapshot);
    await project.cli(["run", "noop", "--each", project.contexts(count), "--no-worker"], { timeoutMs: 600_000 });
    const t0 = Date.now();
    const started = Array.from({ length: workers }, () => project.startWorker({ env: { BGTASK_IDLE: "200ms" } }));
    const ended = await Promise.all(started.map((w) => w.done));
    const left = JSON.parse(
      (await project.cli(["list", "--status", "queued,running,scheduled", "--json", "--limit", ALL], { timeoutMs: 600_000 })).stdout,
    ).length;
    const newest = JSON.parse((await project.cli(["list", "--status", "succeeded,failed,cancelled", "--json", "--limit", "5"])).stdout);
    const last = Math.max(...newest.map((t) => Date.parse(t.finishedAt ?? t.createdAt)));
    const failed = newest.filter((t) => t.status !== "succeeded").length;
    if (left > 0 || failed > 0 || ended.some((e) => e.code !== 0)) {
      throw new Error(`${name}: ${left} left, ${failed} of the newest not succeeded, exits ${ended.map((e) => e.code ?? e.signal).join(",")}`);
    }
    return count / Math.max(0.001, (last - t0) / 1000);
  } finally {
    project.kill();
    rmSync(project.dir, { recursive: true, force: true });
  }
}

try {
  const builds = await Promise.all(repos.map(load));
  if (history > 0 && !existsSync(snapshot)) await buildSnapshot(builds[0]);
  const rates = repos.map(() => []);
  for (let rep = 0; rep < reps; rep++) {
    for (let i = 0; i < repos.length; i++) {
      const rate = await drainOnce(builds[i], `r${rep}-${i}`);
      rates[i].push(rate);
      console.error(`#${rep + 1} ${repos[i]}: ${rate.toFixed(0)}/s`);
    }
  }
  for (let i = 0; i < repos.length; i++) {
    const sorted = [...rates[i]].sort((a, b) => a - b);
    console.log(
      `${repos[i]}: median ${median(sorted).toFixed(0)}/s (min ${sorted[0].toFixed(0)}, max ${sorted.at(-1).toFixed(0)}; ${workers} workers, ${count} tasks, history ${history}, ${reps} runs)`,
    );
  }
} finally {
  rmSync(runDir, { recursive: true, force: true });
}
