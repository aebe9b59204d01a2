// `bgtask work`: workers in the foreground, for debugging, containers and systemd. Each is a worker
// process like the detached ones (same claim loop, same records), started in this process group
// with its output on this terminal; they never retire (or, with `once`, leave when nothing is
// due). Stopping this (SIGTERM, Ctrl-C) stops each once: its current try finishes within the
// grace period, then it exits; a second stop forces the tries. A worker that keeps failing (a
// journal that refuses it) is started again after a growing, jittered delay, not in a tight loop.
import type { ChildProcess } from "node:child_process";
import { slotsPerWorker } from "../config/config.ts";
import { UsageError } from "../errors.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { spawnForegroundWorker } from "../worker/spawn.ts";
import type { Session } from "./session.ts";

export interface WorkOptions {
  /** Tasks at once, shared between the workers. */
  concurrency: number;
  /** Worker processes (at most `concurrency`). */
  workers: number;
  once: boolean;
  executors: readonly string[];
  /** Told when a worker exits while not asked to, before it is replaced in `delayMs`. */
  onExit?(exit: WorkerExit): void;
}

export interface WorkerExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it failed, in the worker's own words (one line unless BGTASK_DEBUG=1), when it could say. */
  failed: string | null;
  delayMs: number;
}

/** A slot's first replacement in a row waits up to this long, each next one twice as long, up to RESTART_MAX_MS. */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 30_000;

/**
 * The wait before the `failures`-th replacement in a row: jittered within the upper half of its
 * step, so each wait is longer than the one before until the cap, and slots failing together
 * spread out.
 */
function restartDelayMs(failures: number): number {
  const step = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(step * (0.5 + Math.random() / 2));
}

export interface WorkHandle {
  /** Stops every worker (a second call forces their tries). */
  stop(): void;
  /** Resolves with the exit code once every worker has exited: 0 when each exited cleanly. */
  done: Promise<number>;
}

export function checkWorkOptions(session: Session, options: WorkOptions): void {
  const { concurrency, workers } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) {
    throw new UsageError(`--concurrency ${String(concurrency)} is not a whole number from 1 to 10000`);
  }
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers ${String(workers)} is not a whole number from 1 to 256`);
  for (const name of options.executors) resolveExecutor(session.config.tasksDir, name);
}

export function work(session: Session, options: WorkOptions): WorkHandle {
  checkWorkOptions(session, options);
  const live = new Set<ChildProcess>();
  const waiting = new Set<NodeJS.Timeout>();
  let stopping = false;
  let failed = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const finishIfDone = () => {
    if (live.size === 0 && waiting.size === 0) finish(failed && !stopping ? 1 : 0);
  };
  const places = slotsPerWorker(options);
  /** Starts a slot's worker; `failures`: its workers that failed in a row before this one. */
  const start = (failures: number) => {
    const startedAt = Date.now();
    const child = spawnForegroundWorker(session.config, { ...options, places });
    let said: string | null = null;
    child.on("message", (message: { failed?: unknown }) => {
      if (typeof message?.failed === "string") said = message.failed;
    });
    live.add(child);
    child.on("exit", (code, signal) => {
      live.delete(child);
      if (code !== 0) failed = true;
      // A worker that left while not asked to (killed, crashed, or presumed dead and stopped) is
      // replaced: a container's workers stay up. One that lived long was not failing at once: the count starts again.
      if (!stopping && !options.once) {
        const inARow = Date.now() - startedAt >= RESTART_MAX_MS ? 1 : failures + 1;
        const delayMs = restartDelayMs(inARow);
        options.onExit?.({ pid: child.pid, code, signal, failed: said, delayMs });
        const timer = setTimeout(() => {
          waiting.delete(timer);
          start(inARow);
        }, delayMs);
        waiting.add(timer);
        return;
      }
      finishIfDone();
    });
  };
  for (let i = 0; i < Math.min(options.workers, options.concurrency); i++) start(0);
  return {
    stop() {
      stopping = true;
      for (const timer of waiting) clearTimeout(timer);
      waiting.clear();
      for (const child of live) child.kill("SIGTERM");
      finishIfDone();
    },
    done,
  };
}
