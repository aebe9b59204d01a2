// Child processes for the bench: timed runs, peak RSS, and finding (then ending) every process a
// scenario started, including detached workers, by an environment entry they all inherit.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** GNU time gives the exact peak RSS of a child; without it we poll /proc/<pid>/status. */
export const GNU_TIME = (() => {
  if (!existsSync("/usr/bin/time")) return null;
  const probe = spawnSync("/usr/bin/time", ["-f", "%M", "-o", "/dev/null", "true"], { stdio: "ignore" });
  return probe.status === 0 ? "/usr/bin/time" : null;
})();

let rssFiles = 0;
/** GNU time output files of processes still running, removed by removeRssFiles() at exit. */
const pendingRssFiles = new Set();

export function removeRssFiles() {
  for (const file of pendingRssFiles) rmSync(file, { force: true });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function vmHwmKb(pid) {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Starts `cmd args`; `done` resolves with { code, signal, ms, stdout, stderr, rssKb } once it exits.
 * ms runs from spawn() to exit. With `rss`, the peak resident set is measured (through GNU time,
 * which adds its own fork to ms: never time and measure RSS in the same run).
 * `stdio: "ignore"` for long-lived processes whose output does not matter.
 */
export function start(cmd, args, { cwd, env, rss = false, timeoutMs = 300_000, stdio = "pipe" } = {}) {
  const viaTime = rss && GNU_TIME !== null;
  const timeOut = viaTime ? join(tmpdir(), `bgtask-bench-rss-${process.pid}-${rssFiles++}`) : null;
  if (timeOut) pendingRssFiles.add(timeOut);
  const argv = viaTime ? [GNU_TIME, ["-f", "%M", "-o", timeOut, cmd, ...args]] : [cmd, args];
  const started = process.hrtime.bigint();
  const child = spawn(argv[0], argv[1], { cwd, env, stdio: stdio === "pipe" ? ["ignore", "pipe", "pipe"] : "ignore" });
  const out = [];
  const err = [];
  child.stdout?.on("data", (d) => out.push(d));
  child.stderr?.on("data", (d) => err.push(d));
  let polledKb = null;
  const poller =
    rss && !viaTime
      ? setInterval(() => {
          const kb = vmHwmKb(child.pid);
          if (kb !== null) polledKb = Math.max(polledKb ?? 0, kb);
        }, 10)
      : null;
  let timer;
  const done = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      clearTimeout(timer);
      if (poller) clearInterval(poller);
      let rssKb = polledKb;
      if (viaTime) {
        const text = existsSync(timeOut) ? readFileSync(timeOut, "utf8").trim().split("\n").pop() : "";
        rssKb = /^\d+$/.test(text) ? Number(text) : null;
        rmSync(timeOut, { force: true });
        pendingRssFiles.delete(timeOut);
      }
      resolve({ code, signal, ms, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), rssKb });
    });
  });
  timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return {
    child,
    done,
    /** The pid of the measured program itself (under GNU time, its only child). */
    targetPid() {
      if (!viaTime) return child.pid;
      try {
        const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/);
        return kids[0] ? Number(kids[0]) : null;
      } catch {
        return null;
      }
    },
  };
}

/** Runs to completion; throws with the command's stderr when it fails and `check` is set. */
export async function run(cmd, args, options = {}) {
  const result = await start(cmd, args, options).done;
  if (options.check && result.code !== 0) {
    const what = [cmd, ...args].map((a) => (a.length > 60 ? `${a.slice(0, 57)}...` : a)).join(" ");
    throw new Error(`\`${what}\` exited ${result.code ?? result.signal}: ${result.stderr.trim().slice(0, 500)}`);
  }
  return result;
}

/** Live (non-zombie) pids whose environment holds `entry` ("NAME=value"), this process excluded. */
export function processesWith(entry) {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = readFileSync(join("/proc", name, "stat"), "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (
        readFileSync(join("/proc", name, "environ"), "utf8")
          .split("\0")
          .includes(entry)
      )
        pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

export function signalAll(pids, signal) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Waits until no process carries `entry`; after `timeoutMs` kills them and returns false. */
export async function waitGone(entry, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processesWith(entry).length === 0) return true;
    await sleep(25);
  }
  signalAll(processesWith(entry), "SIGKILL");
  return false;
}
