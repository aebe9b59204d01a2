// The handle a Runner holds on its supervisor thread (supervisor-thread.ts): a second event loop in
// the worker process, so the heartbeat, cancel requests, timeouts and forcing keep working while an
// executor blocks the main thread. The main thread tells it which try runs, through shared memory
// (a message per try woke the thread twice per task, which a draining worker paid dearly for:
// docs/README-performance.md); it answers with aborts. A worker running many tries at once has a
// place on the board for each.
import { Worker } from "node:worker_threads";
import type { Config } from "../config/config.ts";
import { stopBeating } from "../host/beat.ts";
import type { TaskRecord } from "../core/task.ts";
import type { AbortReason } from "./abort-reasons.ts";

// Relative to the parent folder: this line also runs inside the CLI bundle, dist/cli/bgtask.cjs (`tick`).
const THREAD_ENTRY = new URL("../worker/supervisor-thread.js", import.meta.url);

/** Main thread → supervisor: force every watched try to end now (a second SIGTERM): failed with `message`, retried by its policy. */
export type ToSupervisor = { type: "force"; message: string };

/** Supervisor → main thread: abort the try holding `lease` for `reason`. */
export interface AbortRequest {
  type: "abort";
  lease: string;
  reason: AbortReason;
}

/**
 * Supervisor → main thread: the try holding `lease` did not stop within the grace period of its
 * cancel or timeout and was recorded as its policy says; its slot is free, and whatever it does
 * from now on is not recorded. The worker takes no more tasks, and leaves once the others end.
 */
export interface LeakNotice {
  type: "leaked";
  lease: string;
}

export type FromSupervisor = AbortRequest | LeakNotice;

export interface SupervisorData {
  /** The runner's resolved config (flags included), so both threads use the same journal and timings. */
  config: Config;
  /** The runner's worker slot, freed when the supervisor replaces a worker it had to kill. */
  slot: string;
  /** The watch board (see WatchBoard). */
  shared: SharedArrayBuffer;
}

/** A try the main thread runs, as the supervisor reads it. */
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

// The board's header: Int32 fields.
const FORCING = 0;
const CAPACITY = 1;
const HEADER_BYTES = 16;
// Each place's Int32 fields.
const GENERATION = 0;
const WATCHING = 1;
const LEASE_LENGTH = 2;
// Its Float64 fields, after the four Int32s.
const ID = 0;
const TIMEOUT_AT = 1;
const TIMEOUT_MS = 2;
const SINCE = 3;
const BEAT_AT = 4;
const FLOATS = 5;
const LEASE_BYTES = 128;
const PLACE_BYTES = 16 + FLOATS * 8 + LEASE_BYTES;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Place {
  ints: Int32Array;
  floats: Float64Array;
  lease: Uint8Array;
}

/**
 * Shared memory between the runner and its supervisor thread: a place per slot, each holding the
 * try that runs in it. FORCING: the thread sets 1 once it starts forcing; the runner must claim
 * nothing more. A place's GENERATION: a sequence lock over its try, odd while the main thread
 * writes it, bumped at every watch and unwatch, so the thread knows at once that the try it checks
 * has ended and never reads one half written.
 */
export class WatchBoard {
  readonly shared: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly places: Place[] = [];

  constructor(shared: SharedArrayBuffer | number) {
    this.shared = typeof shared === "number" ? new SharedArrayBuffer(HEADER_BYTES + shared * PLACE_BYTES) : shared;
    this.header = new Int32Array(this.shared, 0, 4);
    if (typeof shared === "number") this.header[CAPACITY] = shared;
    for (let i = 0; i < this.header[CAPACITY]!; i++) {
      const at = HEADER_BYTES + i * PLACE_BYTES;
      this.places.push({
        ints: new Int32Array(this.shared, at, 4),
        floats: new Float64Array(this.shared, at + 16, FLOATS),
        lease: new Uint8Array(this.shared, at + 16 + FLOATS * 8, LEASE_BYTES),
      });
    }
  }

  get size(): number {
    return this.places.length;
  }

  get forcing(): boolean {
    return Atomics.load(this.header, FORCING) === 1;
  }

  setForcing(): void {
    Atomics.store(this.header, FORCING, 1);
  }

  generation(place: number): number {
    return Atomics.load(this.places[place]!.ints, GENERATION);
  }

  /** Main thread: `task` runs in `place` now (null: nothing does); its heartbeat is `clockOffsetMs` ahead of this host's clock (see JournalClock). */
  post(place: number, task: TaskRecord | null, clockOffsetMs = 0): void {
    const { ints, floats, lease } = this.places[place]!;
    Atomics.add(ints, GENERATION, 1);
    if (task) {
      floats[ID] = Number(task.id);
      floats[TIMEOUT_AT] = task.timeoutAt ? Date.parse(task.timeoutAt) : Number.NaN;
      floats[TIMEOUT_MS] = task.timeoutMs ?? Number.NaN;
      floats[SINCE] = Date.now();
      floats[BEAT_AT] = task.heartbeatAt ? Date.parse(task.heartbeatAt) - clockOffsetMs : floats[SINCE]!;
      ints[LEASE_LENGTH] = encoder.encodeInto(task.lease!, lease).written;
    }
    ints[WATCHING] = task ? 1 : 0;
    Atomics.add(ints, GENERATION, 1);
  }

  /** Supervisor thread: the try running in `place`, null when none, undefined while the main thread is writing it. */
  read(place: number): WatchedTry | null | undefined {
    const { ints, floats, lease } = this.places[place]!;
    const generation = Atomics.load(ints, GENERATION);
    if (generation % 2 === 1) return undefined;
    const watching = ints[WATCHING] === 1;
    const value: WatchedTry = {
      generation,
      id: String(floats[ID]),
      lease: decoder.decode(lease.slice(0, ints[LEASE_LENGTH])),
      timeoutAt: Number.isNaN(floats[TIMEOUT_AT]) ? null : floats[TIMEOUT_AT]!,
      timeoutMs: Number.isNaN(floats[TIMEOUT_MS]) ? null : floats[TIMEOUT_MS]!,
      since: floats[SINCE]!,
      beatAt: floats[BEAT_AT]!,
    };
    if (Atomics.load(ints, GENERATION) !== generation) return undefined;
    return watching ? value : null;
  }
}

export class Supervisor {
  private readonly thread: Worker;
  private readonly board: WatchBoard;
  private readonly home: string;

  /** `places`: how many tries the worker runs at once. */
  constructor(config: Config, slot: string, places: number, onMessage: (message: FromSupervisor) => void, onFailure: (error: Error) => void) {
    this.home = config.home;
    this.board = new WatchBoard(places);
    const data: SupervisorData = { config, slot, shared: this.board.shared };
    // A small young generation: the thread allocates little, and a semi-space grown to V8's default
    // (16 MB) by one busy moment would stay resident for the worker's life.
    this.thread = new Worker(THREAD_ENTRY, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.thread.on("message", onMessage);
    this.thread.on("error", onFailure);
  }

  /** True once the thread has begun killing this process: stop claiming. */
  get forcing(): boolean {
    return this.board.forcing;
  }

  /** `task` runs in `place`; `clockOffsetMs`: the journal's clock minus this host's, which the try's heartbeat is stamped on. */
  watch(place: number, task: TaskRecord, clockOffsetMs: number): void {
    this.board.post(place, task, clockOffsetMs);
  }

  /** The executor in `place` has returned (or leaked): what remains (flush, settle) needs no watching. */
  unwatch(place: number): void {
    this.board.post(place, null);
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
