// The handle a Runner holds on its supervisor thread (supervisor-thread.ts): a second event loop in
// the worker process, so the heartbeat, cancel requests, timeouts and forcing keep working while an
// executor blocks the main thread. The main thread tells it which try runs, through shared memory
// (a message per try woke the thread twice per task, which a draining worker paid dearly for:
// docs/README-performance.md); it answers with aborts.
import { Worker } from "node:worker_threads";
import type { Config } from "../config/config.ts";
import { stopBeating } from "../host/beat.ts";
import type { TaskRecord } from "../core/task.ts";
import type { AbortReason } from "./abort-reasons.ts";

// Relative to the parent folder: this line also runs inside the CLI bundle, dist/cli/bgtask.cjs (`tick`).
const THREAD_ENTRY = new URL("../worker/supervisor-thread.js", import.meta.url);

/** Main thread → supervisor: force the watched try to end now (a second SIGTERM): failed with `message`, retried by its policy. */
export type ToSupervisor = { type: "force"; message: string };

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
  /** The watch board (see WatchBoard). */
  shared: SharedArrayBuffer;
}

/** The try the main thread runs, as the supervisor reads it. */
export interface WatchedTry {
  generation: number;
  id: string;
  lease: string;
  timeoutAt: number | null;
  timeoutMs: number | null;
  /** When the main thread began it (epoch ms). */
  since: number;
  /** The heartbeat the journal holds for it (its claim's), on this host's clock (epoch ms). */
  beatAt: number;
}

// Int32 fields.
const FORCING = 0;
const GENERATION = 1;
const WATCHING = 2;
const LEASE_LENGTH = 3;
// Float64 fields, after the four Int32s.
const ID = 0;
const TIMEOUT_AT = 1;
const TIMEOUT_MS = 2;
const SINCE = 3;
const BEAT_AT = 4;
const FLOATS = 5;
const LEASE_BYTES = 128;
const BOARD_BYTES = 16 + FLOATS * 8 + LEASE_BYTES;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Shared memory between the runner and its supervisor thread. FORCING: the thread sets 1 once it
 * starts forcing; the runner must claim nothing more. GENERATION: a sequence lock over the watched
 * try, odd while the main thread writes it, bumped at every watch and unwatch, so the thread knows
 * at once that the try it checks has ended and never reads one half written.
 */
export class WatchBoard {
  readonly shared: SharedArrayBuffer;
  private readonly ints: Int32Array;
  private readonly floats: Float64Array;
  private readonly lease: Uint8Array;

  constructor(shared = new SharedArrayBuffer(BOARD_BYTES)) {
    this.shared = shared;
    this.ints = new Int32Array(shared, 0, 4);
    this.floats = new Float64Array(shared, 16, FLOATS);
    this.lease = new Uint8Array(shared, 16 + FLOATS * 8, LEASE_BYTES);
  }

  get forcing(): boolean {
    return Atomics.load(this.ints, FORCING) === 1;
  }

  setForcing(): void {
    Atomics.store(this.ints, FORCING, 1);
  }

  get generation(): number {
    return Atomics.load(this.ints, GENERATION);
  }

  /** Main thread: `task` runs now (null: nothing runs); its heartbeat is `clockOffsetMs` ahead of this host's clock (see JournalClock). */
  post(task: TaskRecord | null, clockOffsetMs = 0): void {
    Atomics.add(this.ints, GENERATION, 1);
    if (task) {
      this.floats[ID] = Number(task.id);
      this.floats[TIMEOUT_AT] = task.timeoutAt ? Date.parse(task.timeoutAt) : Number.NaN;
      this.floats[TIMEOUT_MS] = task.timeoutMs ?? Number.NaN;
      this.floats[SINCE] = Date.now();
      this.floats[BEAT_AT] = task.heartbeatAt ? Date.parse(task.heartbeatAt) - clockOffsetMs : this.floats[SINCE]!;
      this.ints[LEASE_LENGTH] = encoder.encodeInto(task.lease!, this.lease).written;
    }
    this.ints[WATCHING] = task ? 1 : 0;
    Atomics.add(this.ints, GENERATION, 1);
  }

  /** Supervisor thread: the try being run, null when none, undefined while the main thread is writing it. */
  read(): WatchedTry | null | undefined {
    const generation = Atomics.load(this.ints, GENERATION);
    if (generation % 2 === 1) return undefined;
    const watching = this.ints[WATCHING] === 1;
    const value: WatchedTry = {
      generation,
      id: String(this.floats[ID]),
      lease: decoder.decode(this.lease.slice(0, this.ints[LEASE_LENGTH])),
      timeoutAt: Number.isNaN(this.floats[TIMEOUT_AT]) ? null : this.floats[TIMEOUT_AT]!,
      timeoutMs: Number.isNaN(this.floats[TIMEOUT_MS]) ? null : this.floats[TIMEOUT_MS]!,
      since: this.floats[SINCE]!,
      beatAt: this.floats[BEAT_AT]!,
    };
    if (Atomics.load(this.ints, GENERATION) !== generation) return undefined;
    return watching ? value : null;
  }
}

export class Supervisor {
  private readonly thread: Worker;
  private readonly board = new WatchBoard();
  private readonly home: string;

  constructor(config: Config, slot: string, onAbort: (request: AbortRequest) => void, onFailure: (error: Error) => void) {
    this.home = config.home;
    const data: SupervisorData = { config, slot, shared: this.board.shared };
    // A small young generation: the thread allocates little, and a semi-space grown to V8's default
    // (16 MB) by one busy moment would stay resident for the worker's life.
    this.thread = new Worker(THREAD_ENTRY, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.thread.on("message", onAbort);
    this.thread.on("error", onFailure);
  }

  /** True once the thread has begun killing this process: stop claiming. */
  get forcing(): boolean {
    return this.board.forcing;
  }

  /** `clockOffsetMs`: the journal's clock minus this host's, which the try's heartbeat is stamped on. */
  watch(task: TaskRecord, clockOffsetMs: number): void {
    this.board.post(task, clockOffsetMs);
  }

  /** The executor has returned: what remains (flush, settle) needs no watching. */
  unwatch(): void {
    this.board.post(null);
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
