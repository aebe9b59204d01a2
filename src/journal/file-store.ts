// The default journal, as the JournalStore operations over journal-files.ts: each operation is
// one transaction on the active set (non-final tasks and worker slots); final tasks move to the
// append-only history. Reads take no lock.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { NewTask, TaskRecord, WorkerRef } from "../core/task.ts";
import { createTask, isFinal } from "../core/task.ts";
import { maxTriesOf } from "../core/retry-policy.ts";
import { claim, compareIds, isHeldBy, isRunnable, pickNext, recoverFromDeadWorker, settle, type TryOutcome } from "../core/transitions.ts";
import { LeaseLostError } from "../errors.ts";
import { findInHistory, isTombstone, linesBackwards, parseHistoryLine } from "./history.ts";
import { JournalFiles, type Transaction } from "./journal-files.ts";
import type { LockSettings } from "./lock.ts";
import type { JournalDoc, WorkerSlot } from "./schema.ts";
import { watchFolder } from "../host/file-watch.ts";
import type {
  ClaimOptions,
  EnqueueOptions,
  EnqueueResult,
  JournalStore,
  ListFilter,
  LivenessCheck,
  RetireResult,
  TaskReport,
} from "./store.ts";

/** A reserved slot whose worker never registered is given up after this long. */
const SLOT_RESERVATION_MS = 15_000;

function token(): string {
  return randomBytes(8).toString("hex");
}

export class FileJournal implements JournalStore {
  readonly home: string;
  readonly location: string;
  private readonly files: JournalFiles;

  constructor(home: string, lockSettings: LockSettings) {
    this.home = home;
    this.files = new JournalFiles(home, lockSettings);
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

  private snapshot(): Promise<JournalDoc> {
    return this.files.read();
  }

  // ---- helpers over the active set ---------------------------------------------------------

  /** Inserts or replaces a task in the active set, moving it to history when it became final. The only way tasks change. */
  private put(doc: JournalDoc, tx: Transaction, task: TaskRecord): void {
    const index = doc.tasks.findIndex((t) => t.id === task.id);
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

  private heldTask(doc: JournalDoc, id: string, lease: string): TaskRecord {
    const task = doc.tasks.find((t) => t.id === id);
    if (!task || !isHeldBy(task, lease)) throw new LeaseLostError(id);
    return task;
  }

  private pruneSlots(doc: JournalDoc, now: Date, liveness: LivenessCheck): WorkerSlot[] {
    const live = doc.workers.filter((slot) =>
      slot.process === null
        ? now.getTime() - Date.parse(slot.reservedAt) < SLOT_RESERVATION_MS
        : liveness(slot.process) !== "dead",
    );
    if (live.length !== doc.workers.length) doc.workers = live;
    return live;
  }

  private recoverDead(doc: JournalDoc, tx: Transaction, now: Date, options: ClaimOptions): void {
    for (const task of [...doc.tasks]) {
      if (task.status !== "running" || task.worker === null) continue;
      const state = options.liveness(task.worker);
      const silentMs = task.heartbeatAt ? now.getTime() - Date.parse(task.heartbeatAt) : Infinity;
      if (state === "dead") {
        this.put(doc, tx, recoverFromDeadWorker(task, now, "its process is gone"));
      } else if (silentMs > options.heartbeatTimeoutMs) {
        this.put(doc, tx, recoverFromDeadWorker(task, now, `no heartbeat for ${Math.round(silentMs / 1000)}s`));
      }
    }
  }

  // ---- JournalStore ------------------------------------------------------------------------

  enqueue(tasks: readonly NewTask[], now: Date, options: EnqueueOptions): Promise<EnqueueResult> {
    return this.transact((doc, tx) => {
      const created = tasks.map((input) => {
        const task = createTask(String(doc.nextId++), input, now, maxTriesOf(input.retry));
        // Appended directly: put() would scan the set once per task of a bulk enqueue.
        doc.tasks.push(task);
        tx.touched.add(task.id);
        return task;
      });
      let workerSlot: string | null = null;
      if (options.maxWorkers !== null) {
        const live = this.pruneSlots(doc, now, options.liveness);
        const demand = doc.tasks.filter((t) => t.status === "running" || isRunnable(t, now)).length;
        if (live.length < options.maxWorkers && live.length < demand) {
          workerSlot = token();
          doc.workers.push({ slot: workerSlot, reservedAt: now.toISOString(), process: null });
        }
      }
      return { tasks: created, workerSlot };
    });
  }

  claimNext(slot: string, worker: WorkerRef, now: Date, options: ClaimOptions): Promise<TaskRecord | null> {
    return this.transactUnsynced((doc, tx) => {
      this.recoverDead(doc, tx, now, options);
      this.pruneSlots(doc, now, options.liveness);
      const next = pickNext(doc.tasks, now, options.exclude);
      if (!next) return null;
      const claimed = claim(next, worker, token(), now);
      this.put(doc, tx, claimed);
      return claimed;
    });
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.transactUnsynced((doc, tx) => {
      const task = this.heldTask(doc, id, lease);
      this.put(doc, tx, {
        ...task,
        ...report,
        attributes: report.attributes ? { ...task.attributes, ...report.attributes } : task.attributes,
        heartbeatAt: now.toISOString(),
      });
    });
  }

  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord> {
    return this.transactUnsynced((doc, tx) => {
      const settled = settle(this.heldTask(doc, id, lease), outcome, now);
      this.put(doc, tx, settled);
      return settled;
    });
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.transactUnsynced((doc) => {
      const entry = doc.workers.find((w) => w.slot === slot);
      if (entry) entry.process = worker;
      else doc.workers.push({ slot, reservedAt: now.toISOString(), process: worker });
    });
  }

  retireWorker(slot: string, now: Date, idleWindowMs: number): Promise<RetireResult> {
    return this.transactUnsynced((doc) => {
      if (pickNext(doc.tasks, now)) return { retired: false, nextDueAt: null };
      const dueSoon = doc.tasks
        .filter((t) => (t.status === "scheduled" || t.status === "paused") && t.nextRunAt !== null)
        .map((t) => t.nextRunAt!)
        .filter((at) => Date.parse(at) - now.getTime() <= idleWindowMs)
        .sort()[0];
      if (dueSoon) return { retired: false, nextDueAt: dueSoon };
      doc.workers = doc.workers.filter((w) => w.slot !== slot);
      return { retired: true, nextDueAt: null };
    });
  }

  async get(id: string): Promise<TaskRecord | null> {
    const doc = await this.snapshot();
    const active = doc.tasks.find((t) => t.id === id);
    if (active) return active;
    const entry = findInHistory(join(this.home, doc.history.file), doc.history.bytes, id);
    return entry && !isTombstone(entry) ? entry : null;
  }

  /** Every write replaces journal.json by a rename (history appends commit through it too). */
  watchChanges(onChange: () => void): { close(): void } {
    return watchFolder(this.home, (name) => /^journal\.(json|\d+\.log)$/.test(name), () => this.files.signature(), onChange);
  }

  async list(filter: ListFilter): Promise<TaskRecord[]> {
    const doc = await this.snapshot();
    const matches = (task: TaskRecord) =>
      (!filter.statuses || filter.statuses.includes(task.status)) && (!filter.executor || task.executor === filter.executor);
    const active = doc.tasks.filter(matches);
    const finals: TaskRecord[] = [];
    const wanted = Math.max(0, (filter.limit ?? Infinity) - active.length);
    const wantsFinals = !filter.statuses || filter.statuses.some((s) => isFinal(s));
    if (wanted > 0 && wantsFinals) {
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
    }
    return [...active, ...finals].sort((a, b) => compareIds(a.id, b.id));
  }
}
