// `bgtask watch [id …]`, and `run --follow`: follows tasks until they are final. At a terminal a
// live view redraws in place; otherwise one plain line per change, or NDJSON with --json. The
// journal is read only when it changed (store.watchChanges) and at most 10 times a second;
// between reads the live view animates from what it has. Exit 1 if a task failed or was
// cancelled; Ctrl-C stops watching (exit 130) and leaves the tasks running.
import { ACTIVE_STATUSES, isFinal, publicRecord, type TaskRecord } from "../../core/task.ts";
import type { LocationFlags } from "../../config/config.ts";
import type { JournalStore } from "../../journal/store.ts";
import { addSample, estimateRemainingMs, type ProgressSample } from "../output/eta.ts";
import { outputMode } from "../output/color.ts";
import { toJson } from "../output/json.ts";
import type { LiveView } from "../output/live.ts";
import { countStatuses, renderChangeLine, renderFooter, renderSummaryLine, renderWatchFrame, renderWatchLine } from "../output/render.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { checkTaskId, getTask, openSession, type Session } from "../session.ts";

const MIN_REFRESH_MS = 100;

export interface WatchOptions extends LocationFlags {
  json?: boolean;
}

interface Watched {
  task: TaskRecord;
  samples: ProgressSample[];
  /** Removed from the journal while watched. */
  gone: boolean;
}

/** The watched tasks and what was last seen of each; `all` also picks up tasks that appear. */
class Tracker {
  readonly entries = new Map<string, Watched>();
  private readonly store: JournalStore;
  private readonly all: boolean;

  constructor(store: JournalStore, initial: readonly TaskRecord[], all: boolean) {
    this.store = store;
    this.all = all;
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
    return [...this.entries.values()].every((e) => e.gone || isFinal(e.task.status));
  }

  get failed(): boolean {
    return [...this.entries.values()].some((e) => e.gone || e.task.status === "failed" || e.task.status === "cancelled");
  }
}

/** Where a watch shows what it sees. */
interface Sink {
  update(): void;
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
    end(how) {
      if (how === "done") process.stdout.write(`${summaries(tracker)}\n`);
    },
  };
}

function jsonSink(tracker: Tracker): Sink {
  const json = (e: Watched) => toJson(e.gone ? { id: e.task.id, removed: true } : publicRecord(e.task));
  // A heartbeat alone is not a change worth a line.
  const update = changePrinter(tracker, json, (e) => json({ ...e, task: { ...e.task, heartbeatAt: null } }));
  return { update, end: () => undefined };
}

async function liveSink(tracker: Tracker): Promise<Sink> {
  const { startLiveView } = await import("../output/live.ts");
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
    return renderWatchFrame(lines, renderFooter(countStatuses(entries.filter((e) => !e.gone).map((e) => e.task))), size.rows);
  });
  return {
    update: () => view.redraw(),
    end(how) {
      view.stop({ keep: how !== "done" });
      if (how === "interrupted") process.stderr.write("stopped watching; the tasks keep running (bgtask list)\n");
      if (how === "done") process.stdout.write(`${summaries(tracker)}\n`);
    },
  };
}

/** Refreshes on every journal change, throttled, until the tracker is done or Ctrl-C. Returns true when interrupted. */
function follow(store: JournalStore, tracker: Tracker, sink: Sink): Promise<boolean> {
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
    process.on("SIGINT", onInterrupt);
    // What changed between the first read and the subscription is not missed.
    request();
  });
}

export async function watchTasks(session: Session, ids: readonly string[] | null, options: { json?: boolean }): Promise<void> {
  const initial = ids ? await Promise.all(ids.map((id) => getTask(session, id))) : await session.store.list({ statuses: ACTIVE_STATUSES });
  const tracker = new Tracker(session.store, initial, ids === null);
  if (tracker.entries.size === 0) {
    if (!options.json) process.stderr.write("no active tasks to watch\n");
    return;
  }
  const sink = options.json ? jsonSink(tracker) : outputMode().interactive ? await liveSink(tracker) : plainSink(tracker);
  sink.update();
  let how: "done" | "interrupted" | "failed" = "failed";
  try {
    how = !tracker.done && (await follow(session.store, tracker, sink)) ? "interrupted" : "done";
  } finally {
    sink.end(how);
  }
  if (how === "interrupted") process.exitCode = 130;
  else if (tracker.failed) process.exitCode = 1;
}

export async function watch(ids: string[], options: WatchOptions): Promise<void> {
  for (const id of ids) checkTaskId(id);
  await watchTasks(openSession(options), ids.length > 0 ? [...new Set(ids)] : null, options);
}
