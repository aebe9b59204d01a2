// Side by side on trivial jobs: task-spooler (`tsp`) and `nq`, the local queues a user would pick
// instead, against bgtask with one CLI call per task and with one bulk call. End to end: from the
// first enqueue until the last job has finished.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ALL, cleanEnv } from "./project.mjs";
import { processesWith, run, signalAll } from "./proc.mjs";

function which(command) {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : null;
}

/**
 * Makes sure tsp and nq are there: installs them with apt when allowed, missing, root, and apt
 * exists. Returns { tsp, nq } paths (null when absent) and why any is absent.
 */
export function ensurePeers({ install, log }) {
  let tsp = which("tsp");
  let nq = which("nq");
  const reasons = [];
  if ((!tsp || !nq) && install) {
    if (process.getuid?.() !== 0) reasons.push("not root, so not installed with apt");
    else if (!which("apt-get")) reasons.push("apt-get not found");
    else {
      const packages = [!tsp && "task-spooler", !nq && "nq"].filter(Boolean);
      log(`installing ${packages.join(" ")} with apt-get`);
      const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
      const apt = (args) => spawnSync("apt-get", args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 300_000 });
      let result = apt(["install", "-y", "--no-install-recommends", ...packages]);
      if (result.status !== 0) {
        apt(["update"]);
        result = apt(["install", "-y", "--no-install-recommends", ...packages]);
      }
      if (result.status !== 0) reasons.push(`apt-get install failed: ${(result.stderr ?? "").trim().split("\n").pop()}`);
      tsp = which("tsp");
      nq = which("nq");
    }
  } else if (!tsp || !nq) {
    reasons.push("not installed (--quick never installs; the full bench installs them with apt when run as root)");
  }
  return { tsp, nq, why: reasons.join("; ") || "not installed" };
}

/** Enqueues `jobs` with one call each, then waits for the last one: { e2eMs, perCallMs[] }. */
async function sequential(jobs, enqueue, waitLast) {
  const t0 = process.hrtime.bigint();
  const perCall = [];
  let last = null;
  for (let i = 0; i < jobs; i++) {
    const result = await enqueue(i);
    perCall.push(result.ms);
    last = result.stdout.trim();
  }
  await waitLast(last);
  return { e2eMs: Number(process.hrtime.bigint() - t0) / 1e6, perCall };
}

export async function tspRun(bin, dir, jobs, marker) {
  mkdirSync(dir, { recursive: true });
  const env = cleanEnv(marker, { TS_SOCKET: join(dir, "tsp.socket"), TMPDIR: dir, TS_MAXFINISHED: String(jobs + 10) });
  try {
    return await sequential(
      jobs,
      () => run(bin, ["true"], { env, check: true }),
      (id) => run(bin, ["-w", id], { env, timeoutMs: 600_000 }),
    );
  } finally {
    await run(bin, ["-K"], { env });
    signalAll(processesWith(`TS_SOCKET=${join(dir, "tsp.socket")}`), "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function nqRun(bin, dir, jobs, marker) {
  mkdirSync(dir, { recursive: true });
  const env = cleanEnv(marker, { NQDIR: dir });
  try {
    return await sequential(
      jobs,
      () => run(bin, ["true"], { env, check: true, cwd: dir }),
      (id) => run(bin, ["-w", id], { env, check: true, cwd: dir, timeoutMs: 600_000 }),
    );
  } finally {
    signalAll(processesWith(`NQDIR=${dir}`), "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** bgtask on `jobs` no-op tasks, workers started by `run` (idle window: the default 2 s unless shortened). */
export async function bgtaskRun(project, jobs, bulk, idle = "2s") {
  const env = { BGTASK_IDLE: idle };
  const t0 = Date.now();
  const perCall = [];
  if (bulk) perCall.push((await project.cli(["run", "noop", "--each", project.contexts(jobs)], { env })).ms);
  else for (let i = 0; i < jobs; i++) perCall.push((await project.cli(["run", "noop", `i=${i}`], { env })).ms);
  if (!(await project.waitIdle(600_000))) throw new Error("bgtask workers were still running after 10 minutes");
  const left = JSON.parse((await project.cli(["list", "--status", "queued,running", "--json", "--limit", ALL])).stdout).length;
  if (left > 0) throw new Error(`${left} tasks were left unfinished when the workers retired`);
  const newest = JSON.parse((await project.cli(["list", "--json", "--limit", "5"])).stdout);
  const last = Math.max(...newest.map((t) => Date.parse(t.finishedAt)));
  return { e2eMs: last - t0, perCall };
}
