// Starts a detached worker: its own session (setsid), stdio to the worker log, no IPC, unref'd,
// so it outlives the terminal and the CLI exits at once. node:child_process rather than execa
// here: importing execa costs more than the whole of a `bgtask run` (docs/README-performance.md).
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, fstatSync, openSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/config.ts";
import { ensurePrivateDir } from "../host/home.ts";
import type { JournalStore } from "../journal/store.ts";
import { preloadFlags } from "./preload.ts";
import { workerExits, workerLogPath } from "./worker-exits.ts";
import { slotRequest } from "./recovery.ts";

// Relative to the parent folder: this line also runs inside the CLI bundle, dist/cli/bgtask.cjs.
const WORKER_ENTRY = fileURLToPath(new URL("../worker/main.js", import.meta.url));

/**
 * V8 flags for the worker process (not inherited by executors' own child processes). A worker
 * holds the active set and churns through short-lived objects: with V8's defaults its young
 * generation grows large and garbage promoted to the old one is kept until the heap doubles
 * (what that cost a draining worker: docs/README-performance.md). The old
 * space is not capped: an executor may still use as much memory as it needs, at the price of
 * more frequent major collections.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1", "--heap-growing-percent=25"];

function workerEnv(config: Config): NodeJS.ProcessEnv {
  return { ...process.env, BGTASK_ROOT: config.root, BGTASK_HOME: config.home, BGTASK_TASKS: config.tasksDir, BGTASK_JOURNAL: config.journal };
}

export function spawnWorker(config: Config, slot: string): number | undefined {
  ensurePrivateDir(join(config.home, "logs"));
  const fd = openSync(workerLogPath(config.home), "a", 0o600);
  try {
    const logFrom = fstatSync(fd).size;
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...preloadFlags(config), WORKER_ENTRY, slot], {
      detached: true,
      stdio: ["ignore", fd, fd],
      cwd: config.root,
      env: workerEnv(config),
    });
    child.on("exit", (code, signal) => workerExits.push({ pid: child.pid!, code, signal, logFrom }));
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export interface ForegroundOptions {
  /** Drain what is due, then exit. */
  once: boolean;
  /** Tries at once in the worker. */
  places: number;
  executors: readonly string[];
}

/**
 * Starts a worker of `bgtask work`: in this process group, its output on this terminal, a channel
 * to this process so that it stops when this one is gone.
 */
export function spawnForegroundWorker(config: Config, options: ForegroundOptions): ChildProcess {
  const args = [
    "--foreground",
    `--places=${options.places}`,
    ...(options.once ? ["--once"] : []),
    ...options.executors.flatMap((name) => ["--executor", name]),
  ];
  return spawn(process.execPath, [...WORKER_NODE_FLAGS, ...preloadFlags(config), WORKER_ENTRY, ...args], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    cwd: config.root,
    env: workerEnv(config),
  });
}

/**
 * Starts the workers the journal has work for (core's wantsWorker: one for each worker's places of
 * work), up to `workers` on this host (and when the config allows workers at all), first freeing
 * `releasing`: the slot of a worker about to die.
 */
export async function startWorkersIfNeeded(config: Config, store: JournalStore, releasing?: string): Promise<void> {
  if (!config.worker) return;
  for (let started = 0; started < config.workers; started++) {
    const slot = await store.reserveWorker(new Date(), await slotRequest(store, config), started === 0 ? releasing : undefined);
    if (!slot) return;
    spawnWorker(config, slot);
  }
}
