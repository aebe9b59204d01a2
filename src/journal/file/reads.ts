// The file journal's reads, over one snapshot of it: a task by id (active, cold or in the
// history), lists and pages in core's orders, and the counts of `stats`, reading no more of the
// cold queue or the history than a limit keeps. They take no lock; the store runs them on a
// snapshot (withSnapshot), read again when a writer moved on.

import { join } from "node:path";
import {
  type Activity,
  type ActivityWindow,
  activityOf,
  addCount,
  countOf,
  type ExecutorCounts,
  finishedPerMinute,
  noteQueued,
  type OldestQueued,
} from "../../core/stats.ts";
import { compareActiveOnPage, compareNewestFinished, finalsWanted, listed, matchesPage, mergeOrdered } from "../../core/list-order.ts";
import { isFinal, type TaskRecord } from "../../core/task.ts";
import type { PausedQueues } from "../../core/transitions.ts";
import type { ListFilter, PageFilter, StoreStats } from "../store.ts";
import { isTombstone, linesBackwards, parseHistoryLine } from "./archive.ts";
import { findIndexed } from "./archive-index.ts";
import { type ColdReader, coldCount, parseColdLine } from "./cold-queue.ts";
import type { HistoryTally } from "./history-tally.ts";
import type { JournalDoc } from "./schema.ts";

/**
 * Cold lines `stats` reads at most looking for each executor's first: a scrape's cost stays bounded
 * in a deep queue where one executor's tasks all wait behind a million of another's.
 */
export const COLD_SCAN_LINES = 10_000;

function* filterIterable<T>(items: Iterable<T>, keep: (item: T) => boolean): Generator<T> {
  for (const item of items) if (keep(item)) yield item;
}

export class FileReads {
  private readonly home: string;
  private readonly cold: ColdReader;
  private readonly tally: HistoryTally;

  constructor(home: string, cold: ColdReader, tally: HistoryTally) {
    this.home = home;
    this.cold = cold;
    this.tally = tally;
  }

  /** The active task, else the cold one, else its newest history entry unless removed; `byId` indexes the active set for many look-ups. */
  find(doc: JournalDoc, id: string, byId?: ReadonlyMap<string, TaskRecord>): TaskRecord | null {
    return this.locate(doc, id, byId)?.task ?? null;
  }

  locate(doc: JournalDoc, id: string, byId?: ReadonlyMap<string, TaskRecord>): { task: TaskRecord; cold: boolean } | null {
    const active = byId ? byId.get(id) : doc.tasks.find((t) => t.id === id);
    if (active) return { task: active, cold: false };
    const cold = coldCount(doc.queue) > 0 ? this.cold.find(doc.queue, id) : null;
    if (cold) return { task: cold, cold: true };
    const entry = findIndexed(join(this.home, doc.history.file), doc.history.bytes, id);
    return entry && !isTombstone(entry) ? { task: entry, cold: false } : null;
  }

  list(doc: JournalDoc, filter: ListFilter): TaskRecord[] {
    const matches = (task: TaskRecord) =>
      (!filter.statuses || filter.statuses.includes(task.status)) &&
      (!filter.executor || task.executor === filter.executor) &&
      (filter.key === undefined || task.key === filter.key);
    const limit = filter.limit ?? Infinity;
    if (filter.ids) {
      // A follow asks for thousands at once: the active set is indexed once, not scanned per id.
      const byId = new Map(doc.tasks.map((t) => [t.id, t]));
      const found = filter.ids.map((id) => this.find(doc, id, byId)).filter((task): task is TaskRecord => task !== null && matches(task));
      const finals = found.filter((t) => isFinal(t.status)).sort(compareNewestFinished);
      return listed(
        found.filter((t) => !isFinal(t.status)),
        finals,
        limit,
      );
    }
    const active = doc.tasks.filter(matches);
    // The cold queue's first tasks are the next in line after the active set's: no more than the limit are read.
    // A keyed task is never cold (sortsById).
    if ((!filter.statuses || filter.statuses.includes("queued")) && filter.key === undefined && coldCount(doc.queue) > 0) {
      let taken = 0;
      for (const task of this.cold.tasks(doc.queue)) {
        if (taken >= limit) break;
        if (!matches(task)) continue;
        active.push(task);
        taken += 1;
      }
    }
    // The history's last lines are its newest finished tasks.
    const wantsFinals = !filter.statuses || filter.statuses.some((s) => isFinal(s));
    const finals = wantsFinals ? this.newestFinals(doc, matches, finalsWanted(active.length, limit)) : [];
    return listed(active, finals, limit);
  }

  /** Up to `wanted` finished tasks that `matches` passes, newest first: the history's last lines are its newest. */
  private newestFinals(doc: JournalDoc, matches: (task: TaskRecord) => boolean, wanted: number): TaskRecord[] {
    const finals: TaskRecord[] = [];
    if (wanted <= 0) return finals;
    const seen = new Set(doc.tasks.map((t) => t.id));
    const path = join(this.home, doc.history.file);
    for (const line of linesBackwards(path, doc.history.bytes)) {
      const entry = parseHistoryLine(path, line);
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      if (isTombstone(entry) || !matches(entry)) continue;
      finals.push(entry);
      if (finals.length >= wanted) break;
    }
    return finals;
  }

  page(doc: JournalDoc, filter: PageFilter): TaskRecord[] {
    {
      const want = filter.offset + filter.limit;
      const matches = (task: TaskRecord) => matchesPage(task, filter);
      const compare = compareActiveOnPage(filter.order);
      const hot = doc.tasks.filter(matches).sort(compare);
      const cold = !filter.statuses || filter.statuses.includes("queued") ? this.coldInOrder(doc, filter.order === "newest") : [];
      const found: TaskRecord[] = [];
      for (const task of mergeOrdered(hot, filterIterable(cold, matches), compare)) {
        if (found.length >= want) break;
        found.push(task);
      }
      if (!filter.statuses || filter.statuses.some((s) => isFinal(s))) found.push(...this.newestFinals(doc, matches, want - found.length));
      return found.slice(filter.offset);
    }
  }

  /** The cold queue's tasks in claim order, or newest first (read from the end of its segment). */
  private *coldInOrder(doc: JournalDoc, newestFirst: boolean): Generator<TaskRecord> {
    if (coldCount(doc.queue) === 0) return;
    if (!newestFirst) {
      yield* this.cold.tasks(doc.queue);
      return;
    }
    const path = this.cold.pathOf(doc.queue);
    const skip = new Set(doc.queue.skip);
    for (const line of linesBackwards(path, doc.queue.bytes, doc.queue.offset)) {
      const task = parseColdLine(path, line);
      if (!skip.has(task.id)) yield task;
    }
  }

  stats(doc: JournalDoc, now: Date, minutes: number): StoreStats {
    {
      const counts: ExecutorCounts = {};
      const oldestQueued: OldestQueued = {};
      for (const task of doc.tasks) {
        addCount(counts, task.executor, task.status);
        if (task.status === "queued") noteQueued(oldestQueued, task.executor, task.createdAt);
      }
      if (coldCount(doc.queue) > 0) {
        const cold = this.coldByExecutor(doc);
        for (const [executor, n] of Object.entries(cold)) addCount(counts, executor, "queued", n);
        // Only executors with cold tasks left: one whose last cold task was cancelled keeps its key at 0.
        this.coldOldest(
          doc,
          Object.keys(cold).filter((executor) => cold[executor]! > 0),
          oldestQueued,
        );
      }
      const active = new Set(doc.tasks.map((t) => t.id));
      const finished: number[] = [];
      for (const [id, entry] of this.tally.read(doc.history)) {
        // A final task queued again hides its history entry until it is final again.
        if (active.has(id)) continue;
        addCount(counts, entry.executor, entry.status);
        finished.push(entry.finishedAt);
      }
      return { counts, oldestQueued, finishedPerMinute: finishedPerMinute(finished, now.getTime(), minutes) };
    }
  }

  /**
   * Notes each of `executors`' first cold task: cold tasks are created in id order, so an executor's
   * first line left is its oldest. At most COLD_SCAN_LINES are read; an executor not met by then
   * gets the last line's creation, older than its own first (see StoreStats.oldestQueued).
   */
  private coldOldest(doc: JournalDoc, executors: readonly string[], oldest: OldestQueued): void {
    const missing = new Set(executors);
    let last: string | null = null;
    let read = 0;
    for (const task of this.cold.tasks(doc.queue)) {
      last = task.createdAt;
      if (missing.delete(task.executor)) noteQueued(oldest, task.executor, task.createdAt);
      if (missing.size === 0 || ++read >= COLD_SCAN_LINES) break;
    }
    if (last !== null) for (const executor of missing) noteQueued(oldest, executor, last);
  }

  /** The archive's final tasks (those not active again) as activityOf counts them. */
  activity(doc: JournalDoc, now: Date, window: ActivityWindow): Activity {
    const active = new Set(doc.tasks.map((t) => t.id));
    const ended = [...this.tally.read(doc.history)].filter(([id]) => !active.has(id)).map(([, entry]) => entry);
    return activityOf(ended, now.getTime(), window);
  }

  /** Cold tasks a worker may claim: those whose queue is not paused. */
  coldWork(doc: JournalDoc, paused: PausedQueues): number {
    if (paused.size === 0 || coldCount(doc.queue) === 0) return coldCount(doc.queue);
    let work = 0;
    for (const [executor, count] of Object.entries(this.coldByExecutor(doc))) if (!paused.has(executor)) work += count;
    return work;
  }

  /** The cold tasks by executor: the queue's counters less its skipped tasks (a scan only for a queue written before it kept counters). */
  coldByExecutor(doc: JournalDoc): Record<string, number> {
    const { executors } = doc.queue;
    if (!executors) {
      const scanned: ExecutorCounts = {};
      for (const task of this.cold.tasks(doc.queue)) addCount(scanned, task.executor, "queued");
      return Object.fromEntries(Object.entries(scanned).map(([executor, row]) => [executor, row.queued ?? 0]));
    }
    const left = { ...executors };
    for (const id of doc.queue.skip) {
      const task = this.cold.find({ ...doc.queue, skip: [] }, id);
      if (task) left[task.executor] = countOf(left, task.executor) - 1;
    }
    return left;
  }
}
