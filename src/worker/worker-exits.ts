// The detached workers this process started that have exited (spawn.ts records them): a command
// that waits on their work (`run --follow`, client/follow.ts) reads them to tell a worker that
// failed, at start say (a preload that throws, a config broken since), from one slow to come.
// A module of its own, so that reading it loads nothing of spawning.

import { join } from "node:path";

/** Where detached workers write their stdout and stderr. */
export function workerLogPath(home: string): string {
  return join(home, "logs", "worker.log");
}

/** A worker that exited while this process ran, and where its lines begin in the worker log. */
export interface WorkerExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  logFrom: number;
}

/** In order of exit; kept from the start, so that one gone before the command began to wait is not missed. */
export const workerExits: WorkerExit[] = [];
