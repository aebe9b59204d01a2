// `bgtask work`: workers in the foreground, for debugging, containers and systemd. Each is a worker
// process like the detached ones (same claim loop, same records), started in this process group
// with its output on this terminal; they never retire (or, with `once`, leave when nothing is
// due). Stopping this (SIGTERM, Ctrl-C) stops each once: its current try finishes within the
// grace period, then it exits; a second stop forces the tries.
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
  /** Told when a worker exits while not asked to, before it is replaced. */
  onExit?(pid: number | undefined, code: number | null, signal: NodeJS.Signals | null): void;
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
  let stopping = false;
  let failed = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const places = slotsPerWorker(options);
  const start = () => {
    const child = spawnForegroundWorker(session.config, { ...options, places });
    live.add(child);
    child.on("exit", (code, signal) => {
      live.delete(child);
      if (code !== 0) failed = true;
      // A worker that left while not asked to (killed, crashed, or presumed dead and stopped) is
      // replaced: a container's workers stay up.
      if (!stopping && !options.once) {
        options.onExit?.(child.pid, code, signal);
        start();
        return;
      }
      if (live.size === 0) finish(failed && !stopping ? 1 : 0);
    });
  };
  for (let i = 0; i < Math.min(options.workers, options.concurrency); i++) start();
  return {
    stop() {
      stopping = true;
      for (const child of live) child.kill("SIGTERM");
    },
    done,
  };
}
