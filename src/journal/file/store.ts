// The default journal, as the JournalStore operations over journal-files.ts: each operation is
// one transaction on the active set (non-final tasks and worker slots); final tasks move to the
// append-only history, and a deep queue's plain tasks wait in the cold queue (cold-queue.ts) until
// a claim reaches them. Reads take no lock.
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import type { NewTask, TaskRecord, WorkerRef } from "../../core/task.ts";
import { createTask, finishedTime, isFinal } from "../../core/task.ts";
import { applyVerdict, type JournalClock, LOCAL_CLOCK } from "../../core/recovery.ts";
import { maxTriesOf } from "../../core/retry-policy.ts";
import { firedStates, firedTasks, type ScheduleState } from "../../core/schedule.ts";
import {
  cancel,
  cancelEffect,
  canGiveBack,
  claim,
  claimFilterOn,
  claimPredicate,
  compareClaimOrder,
  compareIds,
  type Ended,
  giveBack,
  isHeldBy,
  mayClaimAhead,
  type PausedQueues,
  claimCandidates,
  clashGuard,
  promote,
  releaseDependents,
  retryIn,
  type RetryResult,
  settle,
  sortsById,
  type ClaimFilter,
  type TryOutcome,
} from "../../core/transitions.ts";
import { hostDemand, isDemand, isOnHost, isReservationExpired, retirement, wantsWorker } from "../../core/workers.ts";
import { BadCursorError, LeaseLostError, TaskNotFoundError } from "../../errors.ts";
import { watchFolder } from "../../host/file-watch.ts";
import { uniqueName } from "../../host/unique-name.ts";
import { entryTime, firstLine, isTombstone, parseHistoryLine } from "./archive.ts";
import { ChangeCursor } from "./change-ids.ts";
import { isMissingFile, JournalFiles, type Transaction } from "./journal-files.ts";
import { ColdReader, coldCount, pastHead, type ColdLine } from "./cold-queue.ts";
import { storeInputs } from "./enqueue.ts";
import { compactHistory, removeOldGenerations } from "./history-compaction.ts";
import { FileReads } from "./reads.ts";
import { HistoryTally } from "./history-tally.ts";
import { giveBackTick, readTick, takeTick } from "./tick-mutex.ts";
import type { LockSettings } from "./lock.ts";
import { FileTaskOutput } from "./output.ts";
import type { TaskOutput } from "../task-output.ts";
import { emptyQueue, JOURNAL_VERSION, QUEUE_FILE, type JournalDoc } from "./schema.ts";
import type { Activity, ActivityWindow } from "../../core/stats.ts";
import { addCounters, type Counters, tallyChange, tallyRecovery } from "../../core/counters.ts";
import type { TaskEvent } from "../../core/events.ts";
import { archivedAfter, loggedAfter, parseCursor } from "./event-archive.ts";
import type {
  CancelEffect,
  ChangeListener,
  EnqueueResult,
  Exchange,
  FireRequest,
  ExchangeResult,
  JournalCopy,
  JournalStore,
  ListFilter,
  PageFilter,
  Recovery,
  RecoverResult,
  RemoveFinishedOptions,
  RemoveResult,
  RetireResult,
  SlotRequest,
  StoreStats,
  Survey,
  TaskReport,
  TickHolder,
  TryControl,
  WorkerSlot,
} from "../store.ts";

/**
 * Past this many active tasks, new plain ones (queued now, sorting by id alone: see sortsById) go to the cold queue:
 * every command and worker holds the active set in memory, the cold queue costs nothing until a
 * claim reaches it. Below it, a `run` costs one append, not two.
 */
export const HOT_LIMIT = 1_000;

/** Cold tasks a claim moves into the active set, at most, when its filter refuses them (a tick's budget). */
const MAX_REFUSED_COLD = 100;

/** The executors whose queue is paused, as the claim rules take them. */
function pausedIn(doc: JournalDoc): PausedQueues {
  return new Set(doc.pausedQueues ?? []);
}

export class FileStore implements JournalStore {
  readonly home: string;
  readonly location: string;
  private readonly files: JournalFiles;
  private readonly cold: ColdReader;
  /** Every running try's lease and cancel request as of one version of the files: a worker's supervisor asks about each of its tries in turn. */
  private lastControl: { version: string; running: Map<string, { lease: string | null; cancelRequestedAt: string | null }> } | null = null;
  /** The paused queues of the last snapshot read, with the signature the journal had before it: `list` and `status` ask right after their read. */
  private lastPaused: { version: string; paused: readonly string[] } | null = null;
  private readonly watches = new Set<{ close(): void }>();
  private readonly reads: FileReads;

  /** HOT_LIMIT, unless a test asks for a lower one to make deep queues cheaply (test/model). */
  private readonly hotLimit: number;

  constructor(home: string, lockSettings: LockSettings, options: { hotLimit?: number } = {}) {
    this.home = home;
    this.hotLimit = options.hotLimit ?? HOT_LIMIT;
    this.files = new JournalFiles(home, lockSettings);
    this.cold = new ColdReader(home);
    this.reads = new FileReads(home, this.cold, new HistoryTally(home));
    this.location = this.files.path;
  }

  /** A change acknowledged to a user: on disk before it resolves. */
  private transact<T>(mutate: (doc: JournalDoc, tx: Transaction) => T): Promise<T> {
    return this.files.transact(mutate, true);
  }

  /** Worker bookkeeping: a crash or power loss only means a task runs again (at-least-once). */
  private transactUnsynced<T>(mutate: (doc: JournalDoc, tx: Transaction) => T): Promise<T> {
    return this.files.transact(mutate, false);
  }

  private snapshot(cached = false): Promise<JournalDoc> {
    return this.files.read(cached);
  }

  // ---- helpers over the active set ---------------------------------------------------------

  /**
   * Inserts or replaces a task in the active set, moving it to history when it became final, and
   * counts the change at `now`. The way tasks change. `before`: the task as it was, when it was not
   * in the active set (cold, or final); absent, it is looked up there (not found: a new task).
   */
  private put(doc: JournalDoc, tx: Transaction, task: TaskRecord, now: Date, before?: TaskRecord): void {
    const index = doc.tasks.findIndex((t) => t.id === task.id);
    tallyChange(tx, before ?? (index === -1 ? null : doc.tasks[index]!), task, now);
    if (isFinal(task.status)) {
      if (index !== -1) doc.tasks.splice(index, 1);
      tx.history.push(task);
    } else if (index === -1) {
      doc.tasks.push(task);
    } else {
      doc.tasks[index] = task;
    }
    tx.touched.add(task.id);
  }

  /**
   * Tells the tasks waiting for those this transaction ended (its final tasks and tombstones, as
   * the history receives them), in the same transaction: core's releaseDependents.
   */
  private release(doc: JournalDoc, tx: Transaction, now: Date): void {
    if (tx.history.length === 0) return;
    const ended: Ended[] = tx.history.map((entry) => ({ id: entry.id, status: isTombstone(entry) ? "removed" : entry.status }));
    for (const task of releaseDependents(doc.tasks, ended, now)) this.put(doc, tx, task, now);
  }

  private heldTask(doc: JournalDoc, id: string, lease: string): TaskRecord {
    const task = doc.tasks.find((t) => t.id === id);
    if (!task || !isHeldBy(task, lease)) throw new LeaseLostError(id);
    return task;
  }

  /** Frees the slots whose reservation expired and those the caller found dead. */
  private pruneSlots(doc: JournalDoc, now: Date, deadSlots: readonly string[]): void {
    const dead = new Set(deadSlots);
    const live = doc.workers.filter((slot) => !isReservationExpired(slot, now) && !dead.has(slot.slot));
    if (live.length !== doc.workers.length) doc.workers = live;
  }

  /** Applies the caller's verdicts under their leases, frees dead slots, and queues scheduled tasks whose time has come. */
  private applyRecovery(doc: JournalDoc, tx: Transaction, now: Date, recovery: Recovery): RecoverResult {
    const result: RecoverResult = { recovered: [], forced: [], promoted: [] };
    // Found before the verdicts, as they were: a try just recovered shows as scheduled until the next pass.
    const scheduled = doc.tasks.filter((t) => t.status === "scheduled");
    for (const { id, lease, verdict } of recovery.verdicts) {
      const task = doc.tasks.find((t) => t.id === id);
      if (!task || !isHeldBy(task, lease)) continue;
      const after = applyVerdict(task, verdict, now);
      this.put(doc, tx, after, now);
      if (verdict.kind !== "overdue") tallyRecovery(tx, after, now);
      (verdict.kind === "overdue" ? result.forced : result.recovered).push(id);
    }
    for (const task of scheduled) {
      const promoted = promote(task, now);
      if (promoted === task) continue;
      this.put(doc, tx, promoted, now);
      result.promoted.push(task.id);
    }
    this.pruneSlots(doc, now, recovery.deadSlots);
    return result;
  }

  /** Reserves a slot for one more worker when core's wantsWorker says so. */
  private reserveSlot(doc: JournalDoc, now: Date, request: SlotRequest, enqueuedCold: readonly TaskRecord[] = []): string | null {
    this.pruneSlots(doc, now, request.deadSlots);
    const onHost = doc.workers.filter((slot) => isOnHost(slot, request.host)).length;
    const paused = pausedIn(doc);
    const work = doc.tasks.filter((t) => isDemand(t, now, request.scheduleWindowMs, paused));
    // Cold tasks are never pinned (sortsById): work for any host's worker, unless their queue is paused.
    const cold = this.reads.coldWork(doc, paused) + enqueuedCold.filter((t) => !paused.has(t.executor)).length;
    const demand = hostDemand(work, request.host, (request.scheduleDue ? 1 : 0) + cold);
    if (!wantsWorker(onHost, doc.workers.length, request.maxWorkers, request.places, demand)) return null;
    const slot = uniqueName();
    doc.workers.push({ slot, host: request.host, reservedAt: now.toISOString(), process: null });
    return slot;
  }

  /**
   * Runs a read against a snapshot, again on a fresh one whenever a file it names (a history
   * generation, a cold queue segment) was removed meanwhile by a writer that moved on to another:
   * as often as that happens. Missing while the journal still names it, the file is lost.
   */
  private async withSnapshot<T>(reader: (doc: JournalDoc) => T, cached = false): Promise<T> {
    for (;;) {
      // Taken before the read: a commit in between makes it older than the document, never newer.
      const version = this.files.signature();
      const doc = await this.snapshot(cached);
      this.lastPaused = { version, paused: doc.pausedQueues ?? [] };
      // Kept apart: the cached document is the one the next read brings up to date.
      const named = [doc.history.file, doc.queue.file];
      try {
        return reader(doc);
      } catch (error) {
        if (!isMissingFile(error)) throw error;
        const now = await this.snapshot();
        if (now.history.file === named[0] && now.queue.file === named[1]) throw error;
      }
    }
  }

  // ---- JournalStore ------------------------------------------------------------------------

  async enqueue(tasks: readonly NewTask[], now: Date, workers: SlotRequest | null): Promise<EnqueueResult> {
    let usedUp: string | null = null;
    const result = await this.transact((doc, tx) => {
      usedUp = null;
      // Looked up before anything changes: one missing id, nothing stored (a throw commits nothing).
      const dependencies = new Map<string, TaskRecord>();
      for (const input of tasks) {
        for (const id of input.after ?? []) {
          const found = dependencies.get(id) ?? this.reads.find(doc, id);
          if (!found) throw new TaskNotFoundError(id);
          dependencies.set(id, found);
        }
      }
      const { created, stored, outcomes } = storeInputs(
        doc,
        (task) => this.put(doc, tx, task, now),
        (task) => tallyChange(tx, null, task, now),
        tasks,
        now,
        dependencies,
      );
      // A journal an older bgtask may still read (version 1) keeps every task where that one looks.
      const cold = doc.version === JOURNAL_VERSION && (coldCount(doc.queue) > 0 || doc.tasks.length + created.length > this.hotLimit);
      if (cold && doc.queue.count === 0 && doc.queue.bytes > 0) {
        // The segment is used up: start the next one rather than grow a file nobody reads.
        usedUp = doc.queue.file;
        doc.queue = emptyQueue(`queue.${Number(QUEUE_FILE.exec(doc.queue.file)![1]) + 1}.jsonl`);
      }
      for (const task of created) {
        if (isFinal(task.status)) {
          // Cancelled at once: what it runs after has already failed. Straight to the history (recorded as it was made).
          tx.history.push(task);
          tx.touched.add(task.id);
          continue;
        }
        // The cold queue is merged with the active set by id: only tasks that sort by id alone may wait there.
        if (cold && sortsById(task)) tx.cold.push(task);
        else {
          // Appended directly: put() would scan the set once per task of a bulk enqueue.
          doc.tasks.push(task);
          tx.touched.add(task.id);
        }
      }
      // The cold tasks are counted into the queue as they are appended, after this.
      return { tasks: stored, outcomes, workerSlot: workers === null ? null : this.reserveSlot(doc, now, workers, tx.cold) };
    });
    if (usedUp !== null) this.removeSegment(usedUp);
    return result;
  }

  private removeSegment(name: string): void {
    try {
      unlinkSync(join(this.home, name));
    } catch {
      // removed by another process, or left to the next writer's sweep
    }
  }

  /**
   * The cold queue's first task that may be claimed, passing over those that left it; one the
   * filter refuses waits in the active set instead, where every claim sees it.
   */
  private coldHead(doc: JournalDoc, tx: Transaction, filter: ClaimFilter | undefined, paused: PausedQueues): ColdLine | null {
    const accept = claimPredicate(filter);
    for (let refused = 0; refused < MAX_REFUSED_COLD; ) {
      const head = this.cold.head(doc.queue);
      if (head === null) return null;
      if (doc.queue.skip.includes(head.task.id)) {
        doc.queue = pastHead(doc.queue, head);
        continue;
      }
      if ((!accept || accept(head.task)) && !paused.has(head.task.executor)) return head;
      doc.queue = pastHead(doc.queue, head);
      doc.tasks.push(head.task);
      tx.touched.add(head.task.id);
      refused += 1;
    }
    return null;
  }

  exchange(worker: WorkerRef, now: Date, exchange: Exchange): Promise<ExchangeResult> {
    return this.transactUnsynced((doc, tx) => {
      const byId = new Map(doc.tasks.map((t) => [t.id, t]));
      const held = (id: string, lease: string) => {
        const task = byId.get(id);
        return task && isHeldBy(task, lease) ? task : null;
      };
      const settled = exchange.ends.map((end) => {
        const task = held(end.id, end.lease);
        if (!task) return null;
        const done = settle(task, end.outcome, now);
        this.put(doc, tx, done, now);
        // Ended: a give-back under the same lease finds it no longer held.
        byId.set(done.id, done);
        return done;
      });
      for (const { id, lease } of exchange.giveBack) {
        const task = held(id, lease);
        if (task && canGiveBack(task)) this.put(doc, tx, giveBack(task, now), now);
      }
      // After the ends: the caller's own tries among them are no longer its verdicts' to judge.
      const recovered = exchange.recovery ? this.applyRecovery(doc, tx, now, exchange.recovery) : null;
      this.release(doc, tx, now);
      if (settled.includes(null) || exchange.claim < 1) return { settled, next: [], recovered };
      return { settled, next: this.claimIn(doc, tx, worker, now, claimFilterOn(worker.host, exchange.filter), exchange.claim, exchange.start), recovered };
    });
  }

  private claimIn(doc: JournalDoc, tx: Transaction, worker: WorkerRef, now: Date, filter: ClaimFilter | undefined, max: number, start?: number): TaskRecord[] {
    const paused = pausedIn(doc);
    const { candidates: hot, running } = claimCandidates(doc.tasks, now, max, filter, paused);
    // The first `max` of the active set's candidates (found in one pass) and the cold queue's, merged
    // in claim order, less their clashes as pickFirst drops them: a hot one dropped is not made up
    // for by a cold one behind active tasks that were never candidates.
    const mayStart = clashGuard(running);
    const claimed: TaskRecord[] = [];
    let taken = 0;
    for (let merged = 0; merged < max; merged++) {
      const head = this.coldHead(doc, tx, filter, paused);
      const fromHot = hot[taken] !== undefined && (head === null || compareClaimOrder(hot[taken]!, head.task) < 0);
      const next = fromHot ? hot[taken]! : head?.task;
      if (next === undefined) break;
      if (fromHot) taken += 1;
      if (!mayStart(next)) continue;
      if (!mayClaimAhead(claimed.length, next, start)) break;
      if (!fromHot) doc.queue = pastHead(doc.queue, head!);
      const task = claim(next, worker, uniqueName(), now);
      this.put(doc, tx, task, now, next);
      claimed.push(task);
    }
    return claimed;
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.transactUnsynced((doc, tx) => {
      const task = this.heldTask(doc, id, lease);
      this.put(
        doc,
        tx,
        {
          ...task,
          ...report,
          attributes: report.attributes ? { ...task.attributes, ...report.attributes } : task.attributes,
          heartbeatAt: now.toISOString(),
        },
        now,
      );
    });
  }

  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord> {
    return this.transactUnsynced((doc, tx) => {
      const settled = settle(this.heldTask(doc, id, lease), outcome, now);
      this.put(doc, tx, settled, now);
      this.release(doc, tx, now);
      return settled;
    });
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.transactUnsynced((doc) => {
      const entry = doc.workers.find((w) => w.slot === slot);
      // The worker's host, as the other stores record it: the slot is where the worker runs.
      if (entry) Object.assign(entry, { host: worker.host, process: worker });
      else doc.workers.push({ slot, host: worker.host, reservedAt: now.toISOString(), process: worker });
    });
  }

  retireWorker(slot: string, now: Date, scheduleWindowMs: number): Promise<RetireResult> {
    return this.transactUnsynced((doc) => {
      const host = doc.workers.find((w) => w.slot === slot)?.host;
      const paused = pausedIn(doc);
      const result = retirement(doc.tasks, now, scheduleWindowMs, this.reads.coldWork(doc, paused) > 0, paused, host);
      if (result.retired) doc.workers = doc.workers.filter((w) => w.slot !== slot);
      return result;
    });
  }

  async events(since: string | null, limit: number): Promise<TaskEvent[]> {
    const after = since === null ? null : parseCursor(since, this.location);
    const { rev, snapshotRev, events } = await this.files.loggedEvents();
    // A cursor past the last transaction is another journal's (a copy, one made again).
    if (after !== null && after.rev > rev) throw new BadCursorError(since!, this.location);
    // Only what the log no longer holds is read from the archive: the snapshot's own rev too, whose events a page may have cut.
    const archived = after !== null && after.rev > snapshotRev ? [] : archivedAfter(this.home, after, snapshotRev, limit);
    return [...archived, ...loggedAfter(events, after)].slice(0, limit);
  }

  counters(): Promise<Counters> {
    return this.withSnapshot((doc) => structuredClone(doc.counters ?? {}), true);
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.withSnapshot((doc) => this.reads.find(doc, id));
  }

  /** A cold task that changed (cancelled, removed) is passed over by the cursor from now on. */
  private leaveCold(doc: JournalDoc, id: string): void {
    doc.queue = { ...doc.queue, skip: [...doc.queue.skip, id] };
    // Every line left is passed over (a whole queue cancelled): the cursor goes to the end at once
    // rather than carry the ids in every transaction until the claims pass them.
    if (coldCount(doc.queue) === 0) doc.queue = { ...doc.queue, offset: doc.queue.bytes, count: 0, skip: [] };
  }

  /** The ids come from what the write-ahead log committed since (change-ids.ts); across a compaction it cannot tell, and says null. */
  watchChanges(onChange: ChangeListener): { close(): void } {
    const cursor = new ChangeCursor(this.home);
    const watch = watchFolder(
      this.home,
      (name) => /^journal\.(json|\d+\.log)$/.test(name),
      () => this.files.signature(),
      () => onChange(cursor.changed()),
    );
    const handle = {
      close: () => {
        watch.close();
        this.watches.delete(handle);
      },
    };
    this.watches.add(handle);
    return handle;
  }

  list(filter: ListFilter): Promise<TaskRecord[]> {
    return this.withSnapshot((doc) => this.reads.list(doc, filter));
  }

  page(filter: PageFilter): Promise<TaskRecord[]> {
    return this.withSnapshot((doc) => this.reads.page(doc, filter));
  }

  stats(now: Date, minutes: number): Promise<StoreStats> {
    return this.withSnapshot((doc) => this.reads.stats(doc, now, minutes));
  }

  activity(now: Date, window: ActivityWindow): Promise<Activity> {
    return this.withSnapshot((doc) => this.reads.activity(doc, now, window));
  }

  workerSlots(): Promise<WorkerSlot[]> {
    return this.withSnapshot((doc) => doc.workers.map((slot) => ({ ...slot })));
  }

  /** One machine: the journal's clock is this host's. */
  async clock(): Promise<JournalClock> {
    return LOCAL_CLOCK;
  }

  survey(host: string): Promise<Survey> {
    // From this process's own document: a worker surveys before its claims, and `run` before its enqueue.
    return this.withSnapshot(
      (doc) => ({
        running: doc.tasks.filter((t) => t.status === "running"),
        slots: doc.workers.filter((slot) => isOnHost(slot, host)).map((slot) => ({ ...slot })),
      }),
      true,
    );
  }

  async tryControl(id: string, lease: string): Promise<TryControl> {
    // Every commit grows the log or replaces journal.json: an unchanged signature means an unchanged answer.
    const version = this.files.signature();
    if (this.lastControl?.version !== version) {
      const running = await this.withSnapshot(
        (doc) => new Map(doc.tasks.filter((t) => t.status === "running").map((t) => [t.id, { lease: t.lease, cancelRequestedAt: t.cancelRequestedAt }])),
      );
      this.lastControl = { version, running };
    }
    const task = this.lastControl.running.get(id);
    return { held: task !== undefined && task.lease === lease, cancelRequestedAt: task?.cancelRequestedAt ?? null };
  }

  recover(now: Date, recovery: Recovery): Promise<RecoverResult> {
    return this.transact((doc, tx) => {
      const result = this.applyRecovery(doc, tx, now, recovery);
      this.release(doc, tx, now);
      return result;
    });
  }

  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord | null> {
    return this.transact((doc, tx) => {
      const task = doc.tasks.find((t) => t.id === id);
      if (!task || !isHeldBy(task, lease)) return null;
      const settled = settle(task, outcome, now);
      this.put(doc, tx, settled, now);
      this.release(doc, tx, now);
      return settled;
    });
  }

  async cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null> {
    return (await this.cancelMany([id], now))[0]!;
  }

  cancelMany(ids: readonly string[], now: Date): Promise<Array<{ task: TaskRecord; effect: CancelEffect } | null>> {
    return this.transact((doc, tx) => {
      // A task this transaction ended is on its way to the history, where locate does not see it yet.
      const ended = new Map<string, TaskRecord>();
      const results = ids.map((id) => {
        const found = ended.has(id) ? { task: ended.get(id)!, cold: false } : this.reads.locate(doc, id);
        if (!found) return null;
        const { task } = found;
        const effect = cancelEffect(task);
        if (effect === "final") return { task, effect };
        const next = cancel(task, now);
        if (found.cold && next !== task) this.leaveCold(doc, id);
        if (next !== task) this.put(doc, tx, next, now, task);
        if (isFinal(next.status)) ended.set(id, next);
        return { task: next, effect };
      });
      this.release(doc, tx, now);
      return results;
    });
  }

  async retry(id: string, now: Date): Promise<RetryResult | null> {
    return (await this.retryMany([id], now))[0]!;
  }

  retryMany(ids: readonly string[], now: Date): Promise<Array<RetryResult | null>> {
    return this.transact((doc, tx) =>
      ids.map((id) => {
        const task = this.reads.find(doc, id);
        if (!task) return null;
        // A keyed task is never cold (sortsById), so the active set is where its key's holder is.
        // Back in the active set, a retried task hides its history entry until it is final again (newest line wins).
        return retryIn(task, doc.tasks, (queued) => {
          this.put(doc, tx, queued, now, task);
          return queued;
        });
      }),
    );
  }

  remove(ids: readonly string[], now: Date): Promise<RemoveResult> {
    return this.transact((doc, tx) => {
      const result: RemoveResult = { removed: [], running: [], missing: [] };
      const cold: string[] = [];
      for (const id of new Set(ids)) {
        const found = this.reads.locate(doc, id);
        if (!found) result.missing.push(id);
        else if (found.task.status === "running") result.running.push(id);
        else {
          result.removed.push(found.task);
          if (found.cold) cold.push(id);
        }
      }
      if (result.running.length > 0 || result.missing.length > 0) return { ...result, removed: [] };
      for (const id of cold) this.leaveCold(doc, id);
      const gone = new Set(result.removed.map((t) => t.id));
      doc.tasks = doc.tasks.filter((t) => !gone.has(t.id));
      // A tombstone for every id: an active task removed may still have an older final entry (a retried task).
      for (const id of gone) {
        tx.touched.add(id);
        tx.history.push({ id, removed: now.toISOString() });
      }
      this.release(doc, tx, now);
      return result;
    });
  }

  async removeFinished(olderThan: Date | null, _now: Date, options: RemoveFinishedOptions = {}): Promise<string[]> {
    const oldestBefore = options.onlyIfOldestBefore?.getTime();
    if (oldestBefore !== undefined) {
      const due = await this.withSnapshot((doc) => {
        const path = join(this.home, doc.history.file);
        const line = firstLine(path, doc.history.bytes);
        return line !== null && entryTime(parseHistoryLine(path, line)) < oldestBefore;
      });
      if (!due) return [];
    }
    let replaced: string | null = null;
    const removed = await this.transact((doc) => {
      replaced = null;
      const { executor } = options;
      const compacted = compactHistory(
        this.home,
        doc,
        (task) => (olderThan === null || entryTime(task) < olderThan.getTime()) && (executor === undefined || task.executor === executor),
      );
      if (compacted === null) return [];
      replaced = doc.history.file;
      doc.history = compacted.history;
      return compacted.removed;
    });
    // Under the lock: a compaction running elsewhere may have written a generation not yet committed.
    if (replaced !== null) await this.transactUnsynced((doc) => removeOldGenerations(this.home, doc.history.file));
    return removed;
  }

  reserveWorker(now: Date, request: SlotRequest, releasing?: string): Promise<string | null> {
    return this.transactUnsynced((doc) => {
      if (releasing !== undefined) this.dropSlot(doc, releasing);
      return this.reserveSlot(doc, now, request);
    });
  }

  releaseWorker(slot: string): Promise<void> {
    return this.transactUnsynced((doc) => this.dropSlot(doc, slot));
  }

  private dropSlot(doc: JournalDoc, slot: string): void {
    doc.workers = doc.workers.filter((w) => w.slot !== slot);
  }

  /** Scheduled tasks go to the active set (never the cold queue): there are few, and each is due now. */
  fireSchedules(request: FireRequest, now: Date): Promise<TaskRecord[]> {
    return this.transactUnsynced((doc, tx) => {
      const states = doc.schedules ?? {};
      const inputs = firedTasks(request.firings, states, now, request.onTimeMs);
      if (inputs.length === 0) return [];
      const created = inputs.map((input) => createTask(String(doc.nextId++), input, now, maxTriesOf(input.retry)));
      for (const task of created) this.put(doc, tx, task, now);
      doc.schedules = firedStates(states, created);
      return created;
    });
  }

  scheduleStates(): Promise<Record<string, ScheduleState>> {
    return this.withSnapshot((doc) => ({ ...doc.schedules }));
  }

  pauseQueues(executors: readonly string[], paused: boolean): Promise<string[]> {
    return this.transact((doc) => {
      const queues = new Set(doc.pausedQueues ?? []);
      for (const name of executors) paused ? queues.add(name) : queues.delete(name);
      doc.pausedQueues = [...queues].sort();
      return doc.pausedQueues;
    });
  }

  async pausedQueues(): Promise<string[]> {
    // Every commit changes the signature: unchanged since the last read, the answer is that read's.
    const last = this.lastPaused;
    if (last !== null && last.version === this.files.signature()) return [...last.paused].sort();
    return this.withSnapshot((doc) => [...(doc.pausedQueues ?? [])].sort());
  }

  importTasks(copy: JournalCopy): Promise<{ clashes: string[] }> {
    return this.transact((doc, tx) => {
      const clashes = copy.tasks.filter((t) => this.reads.locate(doc, t.id) !== null).map((t) => t.id);
      if (clashes.length > 0) return { clashes };
      const active = copy.tasks.filter((t) => !isFinal(t.status)).sort((a, b) => compareIds(a.id, b.id));
      // A deep queue's plain tasks wait in the cold queue, as enqueue puts them, where that keeps the
      // cold queue in id order: it is empty, or every copied id comes after those handed out here.
      const cold =
        doc.version === JOURNAL_VERSION &&
        doc.tasks.length + active.length > this.hotLimit &&
        (coldCount(doc.queue) === 0 || active.every((t) => Number(t.id) >= doc.nextId));
      // Appended directly, as enqueue does: none of the ids is here (put would scan the set per task).
      for (const task of active) {
        if (cold && sortsById(task)) tx.cold.push(structuredClone(task));
        else {
          doc.tasks.push(structuredClone(task));
          tx.touched.add(task.id);
        }
      }
      // Final tasks join the history in the order they finished, as if they had finished here.
      for (const task of copy.tasks.filter((t) => isFinal(t.status)).sort((a, b) => finishedTime(a) - finishedTime(b))) {
        tx.history.push(structuredClone(task));
        tx.touched.add(task.id);
      }
      for (const task of copy.tasks) doc.nextId = Math.max(doc.nextId, Number(task.id) + 1);
      // The copied tasks count as nothing new here: the source's counts come with them.
      addCounters(tx.counts, copy.counters);
      doc.pausedQueues = [...new Set([...(doc.pausedQueues ?? []), ...copy.pausedQueues])].sort();
      doc.schedules = { ...doc.schedules, ...structuredClone(copy.schedules) };
      return { clashes };
    });
  }

  taskOutput(home: string): TaskOutput {
    return new FileTaskOutput(home);
  }

  /** Runs `fn` under the journal lock (a transaction that changes nothing in the journal). */
  private underLock<T>(fn: () => T): Promise<T> {
    return this.transactUnsynced(() => fn());
  }

  // One machine: one tick.json, whatever the mutex's name (a tickScope of "host" changes nothing).
  tickHolder(_mutex: string): Promise<TickHolder | null> {
    return Promise.resolve(readTick(this.home));
  }

  acquireTick(_mutex: string, holder: TickHolder, vacated: TickHolder | null): Promise<TickHolder | null> {
    return this.underLock(() => takeTick(this.home, holder, vacated));
  }

  releaseTick(_mutex: string, holder: TickHolder): Promise<void> {
    return this.underLock(() => giveBackTick(this.home, holder));
  }

  /** Files need no connection: closing stops the watchers this store started. */
  close(): Promise<void> {
    for (const watch of [...this.watches]) watch.close();
    return Promise.resolve();
  }
}
