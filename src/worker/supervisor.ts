// The handle a Runner holds on its supervisor thread (supervisor-thread.ts): a second event loop in
// the worker process, so the heartbeat, cancel requests, timeouts and forcing keep working while an
// executor blocks the main thread. The main thread tells it which try runs; it answers with aborts.
import { Worker } from "node:worker_threads";
import type { TaskRecord } from "../core/task.ts";
import type { AbortReason } from "./abort-reasons.ts";

const THREAD_ENTRY = new URL("./supervisor-thread.js", import.meta.url);

/** Main thread → supervisor. */
export type ToSupervisor =
  | { type: "watch"; id: string; lease: string; timeoutAt: string | null; timeoutMs: number | null }
  | { type: "unwatch" }
  /** Force the watched try to end now (a second SIGTERM): failed with `message`, retried by its policy. */
  | { type: "force"; message: string };

/** Supervisor → main thread: abort the try holding `lease` for `reason`. */
export interface AbortRequest {
  type: "abort";
  lease: string;
  reason: AbortReason;
}

export interface SupervisorData {
  /** The runner's worker slot, freed when the supervisor replaces a worker it had to kill. */
  slot: string;
  /** One Int32 the thread sets to 1 once it starts forcing: the runner must claim nothing more. */
  forcing: SharedArrayBuffer;
}

export class Supervisor {
  private readonly thread: Worker;
  private readonly forcingFlag: Int32Array;

  constructor(slot: string, onAbort: (request: AbortRequest) => void, onFailure: (error: Error) => void) {
    const forcing = new SharedArrayBuffer(4);
    this.forcingFlag = new Int32Array(forcing);
    const data: SupervisorData = { slot, forcing };
    this.thread = new Worker(THREAD_ENTRY, { workerData: data });
    this.thread.on("message", onAbort);
    this.thread.on("error", onFailure);
  }

  /** True once the thread has begun killing this process: stop claiming. */
  get forcing(): boolean {
    return Atomics.load(this.forcingFlag, 0) === 1;
  }

  watch(task: TaskRecord): void {
    this.post({ type: "watch", id: task.id, lease: task.lease!, timeoutAt: task.timeoutAt ?? null, timeoutMs: task.timeoutMs });
  }

  /** The executor has returned: what remains (flush, settle) needs no watching. */
  unwatch(): void {
    this.post({ type: "unwatch" });
  }

  force(message: string): void {
    this.post({ type: "force", message });
  }

  async close(): Promise<void> {
    await this.thread.terminate();
  }

  private post(message: ToSupervisor): void {
    this.thread.postMessage(message);
  }
}
