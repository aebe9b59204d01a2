// `bgtask watch [id …]`, and `run --follow`: the client's follow loop shown as it goes. At a
// terminal a live view redraws in place (animating between reads from what it has); otherwise one
// plain line per change, or NDJSON with --json. Ctrl-C stops watching (exit 130).
import { follow, track, configNoWorkers, type Followed, type Tracker } from "../../client/follow.ts";
import { checkTaskId, openSession, type Session } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import { formatDuration } from "../../core/duration.ts";
import { publicRecord } from "../../core/task.ts";
import { untilInterrupted } from "../interrupt.ts";
import { outputMode } from "../output/color.ts";
import { loadColumnsFor } from "../output/columns.ts";
import { addSample, estimateRemainingMs, type ProgressSample } from "../output/eta.ts";
import { toJson } from "../output/json.ts";
import type { LiveView } from "../output/live.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { fitWidth, holdNote, pausedQueueLines } from "../output/text.ts";
import { countStatuses, renderChangeLine, renderFooter, renderSummaryLine, renderWatchFrame, renderWatchLine } from "../output/watch.ts";

export interface WatchOptions extends LocationFlags {
  json?: boolean;
}

/** Where a watch shows what it sees. */
interface Sink {
  update(): void;
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
function changePrinter(tracker: Tracker, lineOf: (entry: Followed) => string, sameAs: (entry: Followed) => string = lineOf): () => void {
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

const writeNote = (text: string) => process.stderr.write(`${text}\n`);

function plainSink(tracker: Tracker): Sink {
  const update = changePrinter(tracker, (e) => (e.gone ? removedLine(e.task.id) : renderChangeLine(e.task, holdNote(e.task, tracker.pausedQueues))));
  return {
    update,
    note: writeNote,
    end(how) {
      if (how === "done") process.stdout.write(`${summaries(tracker)}\n`);
    },
  };
}

function jsonSink(tracker: Tracker): Sink {
  const json = (e: Followed) => toJson(e.gone ? { id: e.task.id, removed: true } : publicRecord(e.task));
  // A heartbeat alone is not a change worth a line.
  const update = changePrinter(tracker, json, (e) => json({ ...e, task: { ...e.task, heartbeatAt: null } }));
  return { update, note: writeNote, end: () => undefined };
}

/** The progress each running task was seen at, for its ETA; a new try starts its series again. */
function progressSamples(tracker: Tracker): { record(): void; of(id: string): ProgressSample[] } {
  const seen = new Map<string, { tries: number; samples: ProgressSample[] }>();
  return {
    record() {
      const at = Date.now();
      for (const [id, { task }] of tracker.entries) {
        const last = seen.get(id);
        const samples = last && last.tries === task.tries ? last.samples : [];
        seen.set(id, { tries: task.tries, samples: task.status === "running" ? addSample(samples, { at, progress: task.progress }) : samples });
      }
    },
    of: (id) => seen.get(id)?.samples ?? [],
  };
}

async function liveSink(tracker: Tracker): Promise<Sink> {
  const { startLiveView } = await import("../output/live.ts");
  const samples = progressSamples(tracker);
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
        : renderWatchLine(
            {
              task: e.task,
              now,
              spinner,
              remainingMs: estimateRemainingMs(samples.of(e.task.id), now.getTime()),
              align,
              held: holdNote(e.task, tracker.pausedQueues),
            },
            size.columns - 1,
          ),
    );
    const footer = [renderFooter(countStatuses(entries.filter((e) => !e.gone).map((e) => e.task))), ...pausedQueueLines(tracker.pausedQueues)].join("\n");
    return renderWatchFrame(lines, [footer, ...notes.map((n) => fitWidth(sanitizeInline(n), size.columns - 1))].join("\n"), size.rows);
  });
  return {
    update() {
      samples.record();
      view.redraw();
    },
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

export interface ShowWatchOptions {
  json?: boolean;
  /** Why no worker may be started for these tasks (`--no-worker`, `"worker": false`); null: one may be. */
  noWorkers: string | null;
}

export async function showWatch(session: Session, ids: readonly string[] | null, options: ShowWatchOptions): Promise<void> {
  const tracker = await track(session, ids);
  if (tracker.entries.size === 0 || (ids === null && tracker.done)) {
    const within = tracker.entries.size === 0 ? "" : ` due within ${formatDuration(session.config.timings.scheduleWindowMs)}`;
    if (!options.json) process.stderr.write(`no active tasks${within} to watch${laterNote(tracker)}\n`);
    return;
  }
  // The records as text tell whether rendering them needs string-width (see columns.ts).
  const loadColumns = () => loadColumnsFor(JSON.stringify([...tracker.entries.values()].map((e) => e.task)));
  await loadColumns();
  const sink = options.json ? jsonSink(tracker) : outputMode().interactive ? await liveSink(tracker) : plainSink(tracker);
  const update = async () => {
    await loadColumns();
    sink.update();
  };
  let how: "done" | "interrupted" | "failed" = "failed";
  try {
    const ended = await untilInterrupted((signal) =>
      follow(session, tracker, { update, note: (text) => sink.note(text), noWorkers: options.noWorkers, signal }),
    );
    how = ended === "stopped" ? "interrupted" : "done";
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
  await showWatch(session, ids.length > 0 ? [...new Set(ids)] : null, { json: options.json, noWorkers: configNoWorkers(session) });
}
