// `bgtask watch [id …]`, and `run --follow`: follows tasks until they are final. At a terminal a
// live view redraws in place; otherwise one plain line per change, or NDJSON with --json. The
// journal is read only when it changed (store.watchChanges) and at most 10 times a second;
// between reads the live view animates from what it has. Exit 1 if a task failed or was
// cancelled; Ctrl-C stops watching (exit 130) and leaves the tasks running.
import { ACTIVE_STATUSES, isFinal, publicRecord, type TaskRecord } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import { formatDuration } from "../../core/duration.ts";
import { isDueWithin, isRunnable } from "../../core/transitions.ts";
import type { JournalStore } from "../../journal/store.ts";
import { recoverNow } from "../../worker/recovery.ts";
import { addSample, estimateRemainingMs, type ProgressSample } from "../output/eta.ts";
import { outputMode } from "../output/color.ts";
import { toJson } from "../output/json.ts";
import type { LiveView } from "../output/live.ts";
import { countStatuses, fitWidth, renderChangeLine, renderFooter, renderSummaryLine, renderWatchFrame, renderWatchLine } from "../output/render.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { checkTaskId, getTask, openSession, type Session } from "../session.ts";
import { workerGone } from "../worker-gone.ts";

const MIN_REFRESH_MS = 100;
/** How often the workers of watched running tasks are checked: a worker that died writes nothing. */
const WORKER_CHECK_MS = 1_000;

export interface WatchOptions extends LocationFlags {
  json?: boolean;
}

interface Watched {
  task: TaskRecord;
  samples: ProgressSample[];
  /** Removed from the journal while watched. */
  gone: boolean;
}

/**
 * The watched tasks and what was last seen of each. `all` (watch with no ids) also picks up tasks
 * that appear, and is not kept open by tasks scheduled later than `windowMs` from now.
 */
class Tracker {
  readonly entries = new Map<string, Watched>();
  private readonly store: JournalStore;
  private readonly all: boolean;
  private readonly windowMs: number;

  constructor(store: JournalStore, initial: readonly TaskRecord[], all: boolean, windowMs: number) {
    this.store = store;
    this.all = all;
    this.windowMs = windowMs;
    for (const task of initial) this.entries.set(task.id, { task, samples: [], gone: false });
  }

  /** One read of the active set; a watched task that left it is looked up once, as it ended. */
  async refresh(now: number): Promise<void> {
    const active = new Map((await this.store.list({ statuses: ACTIVE_STATUSES })).map((t) => [t.id, t]));
    if (this.all) for (const [id, task] of active) if (!this.entries.has(id)) this.entries.set(id, { task, samples: [], gone: false });
    for (const [id, entry] of this.entries) {
      if (entry.gone || isFinal(entry.task.status)) continue;
      const task = active.get(id) ?? (await this.store.get(id));
      if (!task) {
        entry.gone = true;
        continue;
      }
      if (task.tries !== entry.task.tries) entry.samples = [];
      entry.task = task;
      if (task.status === "running") entry.samples = addSample(entry.samples, { at: now, progress: task.progress });
    }
  }

  get done(): boolean {
    const now = new Date();
    return [...this.entries.values()].every((e) => e.gone || isFinal(e.task.status) || (this.all && this.later(e.task, now)));
  }

  /** A task scheduled beyond the window: `watch` with no ids does not wait for it. */
  later(task: TaskRecord, now: Date): boolean {
    return task.status === "scheduled" && !isDueWithin(task, now, this.windowMs);
  }

  /** The tasks a watch with no ids leaves behind because they are scheduled later. */
  leftForLater(): TaskRecord[] {
    const now = new Date();
    return this.all ? [...this.entries.values()].filter((e) => !e.gone && this.later(e.task, now)).map((e) => e.task) : [];
  }

  get failed(): boolean {
    return [...this.entries.values()].some((e) => e.gone || e.task.status === "failed" || e.task.status === "cancelled");
  }
}

/** Where a watch shows what it sees. */
interface Sink {
  update(): void;
  /** A sentence about why the watch may wait (a dead worker, no worker to come). */
  note(text: string): void;
  /** "failed": the watch itself broke (its error is rendered after); no summary then. */
  end(how: "done" | "interrupted" | "failed"): void;
}

function removedLine(id: string): string {
  return `${id} was removed while watched`;
}

function summaries(tracker: Tracker): string {
  const now = new Date();
  return [...tracker.entries.values()].map((e) => (e.gone ? removedLine(e.task.id) : renderSummaryLine(e.task, now))).join("\n");
}

/** Prints a task's line only when it changed: `sameAs` (default: the line itself) says what counts. */
function changePrinter(tracker: Tracker, lineOf: (entry: Watched) => string, sameAs: (entry: Watched) => string = lineOf): () => void {
  const printed = new Map<string, string>();
  return () => {
    for (const [id, entry] of tracker.entries) {
      const key = sameAs(entry);
      if (printed.get(id) === key) continue;
      printed.set(id, key);
      process.stdout.write(`${lineOf(entry)}\n`);
    }
  };
}

function plainSink(tracker: Tracker): Sink {
  const update = changePrinter(tracker, (e) => (e.gone ? removedLine(e.task.id) : renderChangeLine(e.task)));
  return {
    update,
    note: writeNote,
    end(how) {
      if (how === "done") process.stdout.write(`${summaries(tracker)}\n`);
    },
  };
}

const writeNote = (text: string) => process.stderr.write(`${text}\n`);

function jsonSink(tracker: Tracker): Sink {
  const json = (e: Watched) => toJson(e.gone ? { id: e.task.id, removed: true } : publicRecord(e.task));
  // A heartbeat alone is not a change worth a line.
  const update = changePrinter(tracker, json, (e) => json({ ...e, task: { ...e.task, heartbeatAt: null } }));
  return { update, note: writeNote, end: () => undefined };
}

async function liveSink(tracker: Tracker): Promise<Sink> {
  const { startLiveView } = await import("../output/live.ts");
  // Shown under the frame while it is drawn (a line written beside it would be drawn over), and
  // written out once it is gone.
  const notes: string[] = [];
  const view: LiveView = startLiveView((spinner, size) => {
    const now = new Date();
    const entries = [...tracker.entries.values()];
    const align = {
      id: Math.max(...entries.map((e) => e.task.id.length)),
      executor: Math.max(...entries.map((e) => sanitizeInline(e.task.executor).length)),
    };
    const lines = entries.map((e) =>
      e.gone
        ? removedLine(e.task.id)
        : renderWatchLine({ task: e.task, now, spinner, remainingMs: estimateRemainingMs(e.samples, now.getTime()), align }, size.columns - 1),
    );
    const footer = renderFooter(countStatuses(entries.filter((e) => !e.gone).map((e) => e.task)));
    return renderWatchFrame(lines, [footer, ...notes.map((n) => fitWidth(sanitizeInline(n), size.columns - 1))].join("\n"), size.rows);
  });
  return {
    update: () => view.redraw(),
    note(text) {
      notes.push(text);
      view.redraw();
    },
    end(how) {
      view.stop({ keep: how !== "done" });
      if (how === "done") for (const note of notes) writeNote(note);
      if (how === "interrupted") process.stderr.write("stopped watching; the tasks keep running (bgtask list)\n");
      if (how === "done") process.stdout.write(`${summaries(tracker)}\n`);
    },
  };
}

/**
 * What keeps a watch from waiting for nothing. A watched try whose worker is gone (on this host:
 * its process exited) is recovered at once, as a tick would; then a worker is started for what
 * waits, when workers are allowed, or the watch says once per task why none will come.
 */
class Keeper {
  private readonly session: Session;
  /** Why no worker will be started for these tasks, or null when one may be. */
  private readonly noWorkers: string | null;
  private readonly told = new Set<string>();
  private checking = false;
  /** At the first look and after a recovery: what waits may need a worker. */
  private wantWorker = true;

  constructor(session: Session, noWorkers: string | null) {
    this.session = session;
    this.noWorkers = noWorkers;
  }

  async check(tracker: Tracker, sink: Sink): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const { config, store } = this.session;
      const entries = [...tracker.entries.values()].filter((e) => !e.gone);
      const dead = entries.filter((e) => workerGone(e.task));
      if (dead.length > 0) {
        // Its journal write brings the refresh that shows the outcome, and calls this again.
        await recoverNow(store, config);
        for (const e of dead) sink.note(`the worker running ${e.task.id} (pid ${e.task.worker!.pid}) is gone; its try was recovered`);
        this.wantWorker = true;
        return;
      }
      if (!this.wantWorker) return;
      const now = new Date();
      const waiting = entries.filter((e) => isRunnable(e.task, now) || isDueWithin(e.task, now, config.timings.scheduleWindowMs));
      if (waiting.length === 0) return;
      this.wantWorker = false;
      if (this.noWorkers === null) {
        const { startWorkerIfNeeded } = await import("../../worker/spawn.ts");
        await startWorkerIfNeeded(config, store);
        return;
      }
      for (const e of waiting) {
        if (this.told.has(e.task.id)) continue;
        this.told.add(e.task.id);
        sink.note(`${e.task.id} waits for a tick or a worker: ${this.noWorkers}`);
      }
    } finally {
      this.checking = false;
    }
  }
}

/** Refreshes on every journal change, throttled, until the tracker is done or Ctrl-C. Returns true when interrupted. */
function follow(store: JournalStore, tracker: Tracker, sink: Sink, keeper: Keeper): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    let running = false;
    let again = false;
    let lastAt = 0;
    let settled = false;
    const finish = (error: unknown, interrupted = false) => {
      if (settled) return;
      settled = true;
      changes.close();
      clearInterval(workerCheck);
      if (timer) clearTimeout(timer);
      process.off("SIGINT", onInterrupt);
      if (error) reject(error);
      else resolve(interrupted);
    };
    const onInterrupt = () => finish(null, true);
    const refresh = async () => {
      timer = null;
      running = true;
      lastAt = Date.now();
      try {
        await tracker.refresh(lastAt);
        if (settled) return;
        sink.update();
        if (tracker.done) finish(null);
        else await keeper.check(tracker, sink);
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
    const changes = store.watchChanges(request);
    // A recovery writes to the journal, which brings the refresh that shows it.
    const workerCheck = setInterval(() => void keeper.check(tracker, sink).catch((error: unknown) => finish(error)), WORKER_CHECK_MS);
    process.on("SIGINT", onInterrupt);
    // What changed between the first read and the subscription is not missed.
    request();
  });
}

export interface WatchTasksOptions {
  json?: boolean;
  /** Why no worker may be started for these tasks (`--no-worker`, `"worker": false`); null: one may be. */
  noWorkers: string | null;
}

/** Why a watch may not start workers in this project, or null. */
export function configNoWorkers(session: Session): string | null {
  return session.config.worker ? null : 'workers are off in this project ("worker": false in bgtask.config.json)';
}

export async function watchTasks(session: Session, ids: readonly string[] | null, options: WatchTasksOptions): Promise<void> {
  const initial = ids ? await Promise.all(ids.map((id) => getTask(session, id))) : await session.store.list({ statuses: ACTIVE_STATUSES });
  const tracker = new Tracker(session.store, initial, ids === null, session.config.timings.scheduleWindowMs);
  if (tracker.entries.size === 0 || (ids === null && tracker.done)) {
    const within = tracker.entries.size === 0 ? "" : ` due within ${formatDuration(session.config.timings.scheduleWindowMs)}`;
    if (!options.json) process.stderr.write(`no active tasks${within} to watch${laterNote(tracker)}\n`);
    return;
  }
  const sink = options.json ? jsonSink(tracker) : outputMode().interactive ? await liveSink(tracker) : plainSink(tracker);
  sink.update();
  const keeper = new Keeper(session, options.noWorkers);
  let how: "done" | "interrupted" | "failed" = "failed";
  try {
    if (!tracker.done) await keeper.check(tracker, sink);
    how = !tracker.done && (await follow(session.store, tracker, sink, keeper)) ? "interrupted" : "done";
  } finally {
    sink.end(how);
  }
  if (how === "done" && !options.json && tracker.leftForLater().length > 0) process.stderr.write(`${laterNote(tracker).slice(2)}\n`);
  if (how === "interrupted") process.exitCode = 130;
  else if (tracker.failed) process.exitCode = 1;
}

/** "; not waiting for 2 tasks scheduled later (the next at …)", or "" when there are none. */
function laterNote(tracker: Tracker): string {
  const later = tracker.leftForLater().sort((a, b) => Date.parse(a.nextRunAt!) - Date.parse(b.nextRunAt!));
  if (later.length === 0) return "";
  const count = later.length === 1 ? "1 task" : `${later.length} tasks`;
  return `; not waiting for ${count} scheduled later (the next, ${later[0]!.id}, at ${later[0]!.nextRunAt})`;
}

export async function watch(ids: string[], options: WatchOptions): Promise<void> {
  for (const id of ids) checkTaskId(id);
  const session = await openSession(options);
  await watchTasks(session, ids.length > 0 ? [...new Set(ids)] : null, { json: options.json, noWorkers: configNoWorkers(session) });
}
