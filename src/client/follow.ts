// Following tasks until they are final: the one loop behind `watch`, `wait`, `logs --follow`,
// `run --follow` and the client's watch() and wait(). The journal is read only when it changed
// (store.watchChanges), at most 10 times a second. A keeper sees to it that a follow does not wait
// for nothing: a dead worker's try is recovered, a worker is started, or it says why none will come.
import { closeSync, openSync, readSync } from "node:fs";
import { hostname } from "node:os";
import { ACTIVE_STATUSES, isFinal, pinnedHostOf, type TaskRecord } from "../core/task.ts";
import { isDueWithin, isRunnable } from "../core/transitions.ts";
import type { JournalStore } from "../journal/store.ts";
import { SLOT_RESERVATION_MS } from "../core/workers.ts";
import { recoverNow } from "../worker/recovery.ts";
import { workerExits, workerLogPath, type WorkerExit } from "../worker/worker-exits.ts";
import { getEach, type Session } from "./session.ts";
import { workerGone } from "./worker-gone.ts";

const MIN_REFRESH_MS = 100;
/** How much of a failed worker's lines is read for the one that says why. */
const FAILURE_READ_BYTES = 16 * 1024;
/** How often the workers of followed running tasks are checked: a worker that died writes nothing. */
const WORKER_CHECK_MS = 1_000;

export interface Followed {
  task: TaskRecord;
  /** Removed from the journal while followed. */
  gone: boolean;
}

/**
 * The followed tasks and what was last seen of each. `all` (no ids given) also picks up tasks
 * that appear, and is not kept open by tasks scheduled later than `windowMs` from now.
 */
export class Tracker {
  readonly entries = new Map<string, Followed>();
  /** Executors whose queue is paused, as of the last read. */
  pausedQueues: ReadonlySet<string> = new Set();
  private readonly store: JournalStore;
  private readonly all: boolean;
  private readonly windowMs: number;

  constructor(store: JournalStore, initial: readonly TaskRecord[], all: boolean, windowMs: number) {
    this.store = store;
    this.all = all;
    this.windowMs = windowMs;
    for (const task of initial) this.entries.set(task.id, { task, gone: false });
  }

  /**
   * Reads what may have changed: the followed tasks that are not final yet, by their ids; with
   * `all`, the active set first (which shows new tasks), then those that left it, as they ended.
   * One read each, never one per task: a follow of thousands read task by task took longer than
   * the drain it followed, and showed tasks long final as running meanwhile.
   */
  async refresh(): Promise<void> {
    const active = this.all ? byId(await this.store.list({ statuses: ACTIVE_STATUSES })) : null;
    const left = [...this.entries].filter(([id, e]) => !e.gone && !isFinal(e.task.status) && !active?.has(id)).map(([id]) => id);
    const found = left.length > 0 ? byId(await this.store.list({ ids: left })) : new Map<string, TaskRecord>();
    // Changed only once both reads are in: a check in between sees one read's view, not half of one.
    if (active) for (const [id, task] of active) if (!this.entries.has(id)) this.entries.set(id, { task, gone: false });
    for (const [id, entry] of this.entries) {
      if (entry.gone || isFinal(entry.task.status)) continue;
      const task = active?.get(id) ?? found.get(id);
      if (task) entry.task = task;
      else entry.gone = true;
    }
    // After the reads: the store answers from the last one when nothing was committed since.
    this.pausedQueues = new Set(await this.store.pausedQueues());
  }

  get done(): boolean {
    const now = new Date();
    return [...this.entries.values()].every((e) => e.gone || isFinal(e.task.status) || (this.all && this.later(e.task, now)));
  }

  /** A task scheduled beyond the window: a follow with no ids does not wait for it. */
  later(task: TaskRecord, now: Date): boolean {
    return task.status === "scheduled" && !isDueWithin(task, now, this.windowMs);
  }

  /** The tasks a follow with no ids leaves behind because they are scheduled later. */
  leftForLater(): TaskRecord[] {
    const now = new Date();
    return this.all ? [...this.entries.values()].filter((e) => !e.gone && this.later(e.task, now)).map((e) => e.task) : [];
  }

  get failed(): boolean {
    return [...this.entries.values()].some((e) => e.gone || e.task.status === "failed" || e.task.status === "cancelled");
  }
}

function byId(tasks: readonly TaskRecord[]): Map<string, TaskRecord> {
  return new Map(tasks.map((t) => [t.id, t]));
}

/** The tracker for `ids` (each checked to exist), or for every active task when `ids` is null. */
export async function track(session: Session, ids: readonly string[] | null): Promise<Tracker> {
  const initial = ids ? await getEach(session, ids) : await session.store.list({ statuses: ACTIVE_STATUSES });
  const tracker = new Tracker(session.store, initial, ids === null, session.config.timings.scheduleWindowMs);
  tracker.pausedQueues = new Set(await session.store.pausedQueues());
  return tracker;
}

/** Why a follow may not start workers in this project, or null. */
export function configNoWorkers(session: Session): string | null {
  return session.config.worker ? null : 'workers are off in this project ("worker": false in bgtask.config.json)';
}

/**
 * What keeps a follow from waiting for nothing. A followed try whose worker is gone (on this host:
 * its process exited) is recovered at once, as a tick would; then a worker is started for what
 * waits, when workers are allowed, or it says once per task why none will come.
 */
class Keeper {
  private readonly session: Session;
  private readonly noWorkers: string | null;
  private readonly note: (text: string) => void;
  private readonly told = new Set<string>();
  private readonly toldPaused = new Set<string>();
  private readonly toldPinned = new Set<string>();
  /** Tries (id and lease) whose worker looked gone and that the journal's recovery was asked about. */
  private readonly asked = new Set<string>();
  private checking = false;
  /** At the first look and after a recovery: what waits may need a worker. */
  private wantWorker = true;
  /** How many of workerExits were looked at. */
  private exitsSeen = 0;

  constructor(session: Session, noWorkers: string | null, note: (text: string) => void) {
    this.session = session;
    this.noWorkers = noWorkers;
    this.note = note;
  }

  /**
   * A worker this command started that failed (it exited with a code, not on a signal; one that
   * retires exits 0) leaves what waits without it: says why, from its lines in the worker log,
   * and once its slot's reservation is given up (SLOT_RESERVATION_MS), starts another, which may
   * find the cause gone (a preload fixed, a build finished).
   */
  private checkExits(entries: readonly Followed[]): void {
    for (; this.exitsSeen < workerExits.length; this.exitsSeen++) {
      const exit: WorkerExit = workerExits[this.exitsSeen]!;
      if (exit.code === null || exit.code === 0 || entries.every((e) => isFinal(e.task.status))) continue;
      const log = workerLogPath(this.session.config.home);
      const why = failureLine(log, exit.logFrom);
      this.note(
        `the worker started for these tasks (pid ${exit.pid}) exited with code ${exit.code}${why ? `: ${why}` : ""} (see ${log}); another is tried in ${SLOT_RESERVATION_MS / 1000}s`,
      );
      setTimeout(() => {
        this.wantWorker = true;
      }, SLOT_RESERVATION_MS + 500).unref();
    }
  }

  async check(tracker: Tracker): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const { config, store } = this.session;
      const entries = [...tracker.entries.values()].filter((e) => !e.gone);
      this.checkExits(entries);
      // What this follow last read may be older than the journal (a worker that ended these tries
      // and retired): a worker that looks gone is a reason to ask the journal's own recovery rule,
      // which alone says what is gone, once per try.
      const suspects = entries.filter((e) => workerGone(e.task) && !this.asked.has(`${e.task.id}/${e.task.lease}`));
      if (suspects.length > 0) {
        for (const e of suspects) this.asked.add(`${e.task.id}/${e.task.lease}`);
        // Its journal write brings the refresh that shows the outcome, and calls this again.
        const { recovered, gathered } = await recoverNow(store, config);
        for (const id of recovered) {
          if (!tracker.entries.has(id)) continue;
          const { verdict } = gathered.recovery.verdicts.find((v) => v.id === id)!;
          const what = verdict.kind === "lost" && !verdict.dead ? `went silent (${verdict.reason})` : "is gone";
          this.note(`the worker running ${id} (pid ${gathered.workers.get(id)!.pid}) ${what}; its try was recovered`);
        }
        // Recovered here or by another process meanwhile, a try that waits again may need a worker.
        this.wantWorker = true;
        return;
      }
      for (const e of entries) {
        // No worker will come for it, whatever else is done: say so once.
        if (isFinal(e.task.status) || e.task.status === "running" || !tracker.pausedQueues.has(e.task.executor) || this.toldPaused.has(e.task.id)) continue;
        this.toldPaused.add(e.task.id);
        this.note(`${e.task.id} waits: queue ${e.task.executor} is paused (bgtask resume ${e.task.executor})`);
      }
      if (!this.wantWorker) return;
      const now = new Date();
      const waiting = entries.filter((e) => isRunnable(e.task, now) || isDueWithin(e.task, now, config.timings.scheduleWindowMs));
      if (waiting.length === 0) return;
      // No worker started here can claim these: say so once, whatever else starts.
      for (const e of waiting) {
        const pinned = pinnedHostOf(e.task);
        if (pinned === null || pinned === hostname() || this.toldPinned.has(e.task.id)) continue;
        this.toldPinned.add(e.task.id);
        this.note(`${e.task.id} waits for a worker on host ${pinned} (run --on): this host (${hostname()}) does not claim it`);
      }
      this.wantWorker = false;
      if (this.noWorkers === null) {
        const { startWorkersIfNeeded } = await import("../worker/spawn.ts");
        await startWorkersIfNeeded(config, store);
        return;
      }
      for (const e of waiting) {
        if (this.told.has(e.task.id)) continue;
        this.told.add(e.task.id);
        this.note(`${e.task.id} waits for a tick or a worker: ${this.noWorkers}`);
      }
    } finally {
      this.checking = false;
    }
  }
}

/** The line of a failed worker's log that says why: its error, else its first line; null when it wrote nothing. */
function failureLine(logPath: string, from: number): string | null {
  let text: string;
  try {
    const fd = openSync(logPath, "r");
    try {
      const buffer = Buffer.alloc(FAILURE_READ_BYTES);
      text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, from)).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const line = lines.find((l) => / failed: |^\w*Error\b/.test(l)) ?? lines[0];
  return line === undefined ? null : line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

export interface FollowOptions {
  /** Called after every read of the journal, and once before the first; awaited before the next. */
  update(): void | Promise<void>;
  /** A sentence about why the follow may wait (a dead worker, no worker to come). */
  note(text: string): void;
  /**
   * Why no worker may be started for these tasks (`--no-worker`, `"worker": false`), or null when
   * one may be; `false`: only look, never recover nor start anything (`logs --follow`).
   */
  noWorkers: string | null | false;
  /** Ends the follow early (Ctrl-C, a timeout, a consumer that stopped reading). */
  signal?: AbortSignal;
}

/** Follows until every task of `tracker` is final (or gone): "done", or "stopped" when `signal` ended it first. */
export async function follow(session: Session, tracker: Tracker, options: FollowOptions): Promise<"done" | "stopped"> {
  await options.update();
  if (tracker.done) return "done";
  if (options.signal?.aborted) return "stopped";
  const keeper = options.noWorkers === false ? null : new Keeper(session, options.noWorkers, options.note);
  await keeper?.check(tracker);
  return new Promise<"done" | "stopped">((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    let running = false;
    let again = false;
    let lastAt = 0;
    let settled = false;
    const finish = (error: unknown, how: "done" | "stopped" = "done") => {
      if (settled) return;
      settled = true;
      changes.close();
      if (workerCheck) clearInterval(workerCheck);
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve(how);
    };
    const onAbort = () => finish(null, "stopped");
    const refresh = async () => {
      timer = null;
      running = true;
      lastAt = Date.now();
      try {
        await tracker.refresh();
        if (settled) return;
        await options.update();
        if (settled) return;
        if (tracker.done) finish(null);
        else await keeper?.check(tracker);
      } catch (error) {
        finish(error);
      } finally {
        running = false;
        if (again && !settled) {
          again = false;
          request();
        }
      }
    };
    const request = () => {
      if (settled || timer) return;
      if (running) {
        again = true;
        return;
      }
      timer = setTimeout(() => void refresh(), Math.max(0, lastAt + MIN_REFRESH_MS - Date.now()));
    };
    const changes = session.store.watchChanges(request);
    // A recovery writes to the journal, which brings the refresh that shows it.
    const workerCheck = keeper && setInterval(() => void keeper.check(tracker).catch((error: unknown) => finish(error)), WORKER_CHECK_MS);
    options.signal?.addEventListener("abort", onAbort);
    // What changed between the first read and the subscription is not missed.
    request();
  });
}

/**
 * Calls `onChange` after the journal changed with the ids of the tasks that did (null when the
 * store cannot tell, so any may have), gathered over at most MIN_REFRESH_MS: a live view that
 * follows the journal as a whole (the dashboard), reading only what changed. Close it to stop.
 */
export function watchJournal(session: Session, onChange: (ids: string[] | null) => void): { close(): void } {
  let pending: Set<string> | null = new Set();
  let any = false;
  let timer: NodeJS.Timeout | null = null;
  let lastAt = 0;
  const flush = () => {
    timer = null;
    lastAt = Date.now();
    const ids = any ? null : [...pending!];
    pending = new Set();
    any = false;
    onChange(ids);
  };
  const changes = session.store.watchChanges((ids) => {
    if (ids === null) any = true;
    else for (const id of ids) pending!.add(id);
    timer ??= setTimeout(flush, Math.max(0, lastAt + MIN_REFRESH_MS - Date.now()));
  });
  return {
    close: () => {
      changes.close();
      if (timer) clearTimeout(timer);
      pending = null;
    },
  };
}
