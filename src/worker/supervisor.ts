// The handle a Runner holds on its supervisor thread (supervisor-thread.ts): a second event loop in
// the worker process, so the heartbeat, cancel requests, timeouts and forcing keep working while an
// executor blocks the main thread. The main thread tells it which try runs; it answers with aborts.
import { Worker } from "node:worker_threads";
import type { Config } from "../config/config.ts";
import { stopBeating } from "../host/beat.ts";
import type { TaskRecord } from "../core/task.ts";
import type { AbortReason } from "./abort-reasons.ts";

// Relative to the parent folder: this line also runs inside the CLI bundle, dist/cli/bgtask.cjs (`tick`).
const THREAD_ENTRY = new URL("../worker/supervisor-thread.js", import.meta.url);

/** Main thread → supervisor. */
export type ToSupervisor =
  | { type: "watch"; id: string; lease: string; timeoutAt: string | null; timeoutMs: number | null; generation: number }
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
  /** The runner's resolved config (flags included), so both threads use the same journal and timings. */
  config: Config;
  /** The runner's worker slot, freed when the supervisor replaces a worker it had to kill. */
  slot: string;
  /**
   * Two Int32s. [FORCING]: the thread sets 1 once it starts forcing; the runner must claim nothing
   * more. [GENERATION]: bumped by the main thread, synchronously, at every watch and unwatch, so the
   * thread knows at once (before the message arrives) that the try it checks has ended.
   */
  shared: SharedArrayBuffer;
}

export const FORCING = 0;
export const GENERATION = 1;

export class Supervisor {
  private readonly thread: Worker;
  private readonly state: Int32Array;
  private readonly home: string;

  constructor(config: Config, slot: string, onAbort: (request: AbortRequest) => void, onFailure: (error: Error) => void) {
    this.home = config.home;
    const shared = new SharedArrayBuffer(8);
    this.state = new Int32Array(shared);
    const data: SupervisorData = { config, slot, shared };
    // A small young generation: the thread allocates little, and a semi-space grown to V8's default
    // (16 MB) by one busy moment would stay resident for the worker's life.
    this.thread = new Worker(THREAD_ENTRY, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.thread.on("message", onAbort);
    this.thread.on("error", onFailure);
  }

  /** True once the thread has begun killing this process: stop claiming. */
  get forcing(): boolean {
    return Atomics.load(this.state, FORCING) === 1;
  }

  watch(task: TaskRecord): void {
    const generation = Atomics.add(this.state, GENERATION, 1) + 1;
    this.post({ type: "watch", id: task.id, lease: task.lease!, timeoutAt: task.timeoutAt ?? null, timeoutMs: task.timeoutMs, generation });
  }

  /** The executor has returned: what remains (flush, settle) needs no watching. */
  unwatch(): void {
    Atomics.add(this.state, GENERATION, 1);
    this.post({ type: "unwatch" });
  }

  force(message: string): void {
    this.post({ type: "force", message });
  }

  async close(): Promise<void> {
    await this.thread.terminate();
    stopBeating(this.home);
  }

  private post(message: ToSupervisor): void {
    this.thread.postMessage(message);
  }
}
