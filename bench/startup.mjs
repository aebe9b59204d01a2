#!/usr/bin/env node
// Start-up of the short commands, A/B: this checkout's built CLI against another build (--base),
// interleaved run by run, each run beside its own `node -e ''` floor run, so that load on a shared
// machine hits both alike. Prints medians (ms and × N) per command and history size.
//
//   --base DIR        another checkout with a built dist/ (e.g. a worktree of main) to compare with
//   --reps N          runs per command and build (default 15)
//   --sizes 1000,…    history sizes (default 1000,100000)
//   --snapshots DIR   keep the built histories there and reuse them next time (building 100k takes minutes)
//   --only a,b        only these commands: version, enqueue, run, list, status
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BenchProject, BIN } from "./lib/project.mjs";
import { processesWith, run, signalAll, sleep } from "./lib/proc.mjs";
import { Scenarios } from "./lib/scenarios.mjs";
import { formatCount, median } from "./lib/table.mjs";

const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    reps: { type: "string", default: "15" },
    sizes: { type: "string", default: "1000,100000" },
    snapshots: { type: "string" },
    only: { type: "string" },
  },
});
const reps = Number(args.reps);
const sizes = args.sizes.split(",").map(Number);
const builds = [{ name: "this", bin: BIN }];
if (args.base) builds.push({ name: "base", bin: join(resolve(args.base), "bin/bgtask.js") });
for (const { bin } of builds) if (!existsSync(bin)) throw new Error(`${bin} is missing`);

const COMMANDS = {
  version: { project: "read", args: ["--version"] },
  enqueue: { project: "enqueue", args: ["run", "noop", "--no-worker"] },
  run: { project: "running", args: ["run", "noop"], settle: true },
  list: { project: "read", args: ["list"] },
  status: { project: "read", args: ["status", "1"] },
};
const commands = args.only ? args.only.split(",") : Object.keys(COMMANDS);

const runDir = mkdtempSync(join(tmpdir(), "bgtask-startup-"));
const marker = runDir;
process.on("exit", () => {
  signalAll(processesWith(`BGTASK_BENCH_RUN=${marker}`), "SIGKILL");
  rmSync(runDir, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => process.exit(130));
const log = (message) => process.stderr.write(`${message}\n`);
const scenarios = new Scenarios({ runDir, marker, mode: {}, log });

async function timed(project, bin, argv) {
  return (await run(process.execPath, [bin, ...argv], { cwd: project.dir, env: project.env(), check: true })).ms;
}

/** A project whose home is the snapshot; "running" also gets a worker that stays up. */
async function projectFor(kind, snapshot) {
  const project = new BenchProject(join(runDir, `${kind}-${Date.now()}`), marker, { concurrency: 1 });
  project.restore(snapshot);
  if (kind === "running") {
    const registered = project.rev();
    project.startWorker({ env: { BGTASK_IDLE: "10m" } });
    const deadline = Date.now() + 20_000;
    while (project.rev() === registered && Date.now() < deadline) await sleep(20);
  }
  return project;
}

async function measure(snapshot, history) {
  const projects = {};
  for (const name of commands) projects[COMMANDS[name].project] ??= await projectFor(COMMANDS[name].project, snapshot);
  const rows = [];
  for (const name of commands) {
    const { project: kind, args: argv, settle } = COMMANDS[name];
    const project = projects[kind];
    const samples = builds.map(() => ({ ms: [], ratio: [], floor: [] }));
    for (const { bin } of builds) await timed(project, bin, argv); // warm-up
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which build goes first, so neither always follows the other.
      const order = rep % 2 === 0 ? builds.map((_, i) => i) : builds.map((_, i) => builds.length - 1 - i);
      for (const i of order) {
        const floor = (await run(process.execPath, ["-e", ""], { check: true })).ms;
        const ms = await timed(project, builds[i].bin, argv);
        if (settle) await project.settle();
        samples[i].ms.push(ms);
        samples[i].floor.push(floor);
        samples[i].ratio.push(ms / floor);
      }
    }
    rows.push({ name, history, samples });
    const text = samples.map((s, i) => `${builds[i].name} ${median(s.ms).toFixed(1)} ms ${median(s.ratio).toFixed(2)} N`).join("  |  ");
    log(`${formatCount(history).padStart(5)} ${name.padEnd(8)} N ${median(samples[0].floor).toFixed(1)} ms  |  ${text}`);
  }
  for (const project of Object.values(projects)) {
    project.stopWorkers();
    await project.waitIdle(10_000);
  }
  return rows;
}

const historyProject = new BenchProject(join(runDir, "history"), marker, { concurrency: 2 });
for (const size of sizes) {
  const cached = args.snapshots ? join(resolve(args.snapshots), `snapshot-${size}`) : null;
  let snapshot = cached;
  if (!cached || !existsSync(cached)) {
    await scenarios.buildHistory(historyProject, size, Infinity);
    snapshot = cached ?? join(runDir, `snapshot-${size}`);
    if (cached) mkdirSync(resolve(args.snapshots), { recursive: true });
    historyProject.snapshot(snapshot);
  } else {
    // The next size grows from this one.
    historyProject.restore(cached);
    scenarios.count = size;
  }
  await measure(snapshot, size);
}
historyProject.kill();
