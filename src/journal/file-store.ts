// The default journal: journal.json (the active set and worker registry, through lowdb) plus an
// append-only history of final tasks. The only code that touches these files. Every change is
// lock → read → mutate → append history → durable write → unlock; reads take no lock because
// every file is replaced by rename or only appended to past a committed length.
import { randomBytes } from "node:crypto";
import { readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { Low } from "lowdb";
import type { NewTask, TaskRecord, WorkerRef } from "../core/task.ts";
import { createTask, isFinal } from "../core/task.ts";
import { maxTriesOf } from "../core/retry-policy.ts";
import { claim, compareIds, isHeldBy, isRunnable, pickNext, recoverFromDeadWorker, settle, type TryOutcome } from "../core/transitions.ts";
import { LeaseLostError } from "../errors.ts";
import { ensurePrivateDir } from "../host/home.ts";
import { DurableJsonFile, RevisionConflict } from "./durable-file.ts";
import { appendHistory, findInHistory, historyLine, isTombstone, linesBackwards, parseHistoryLine, type HistoryEntry } from "./history.ts";
import { acquireLock, LockCompromisedError, type LockSettings } from "./lock.ts";
import { emptyDoc, type JournalDoc, type WorkerSlot } from "./schema.ts";
import { crashPoint } from "./crash-points.ts";
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
const MAX_ATTEMPTS = 5;

interface Transaction {
  changed: boolean;
  history: HistoryEntry[];
}

function token(): string {
  return randomBytes(8).toString("hex");
}

export class FileJournal implements JournalStore {
  readonly home: string;
  readonly location: string;
  private readonly lockSettings: LockSettings;
  private swept = false;

  constructor(home: string, lockSettings: LockSettings) {
    this.home = home;
    this.location = join(home, "journal.json");
    this.lockSettings = lockSettings;
  }

  // ---- the one write path -------------------------------------------------------------------

  private async transact<T>(mutate: (doc: JournalDoc, tx: Transaction) => T): Promise<T> {
    ensurePrivateDir(this.home);
    for (let attempt = 1; ; attempt++) {
      const lock = await acquireLock(this.home, join(this.home, "journal.lock"), this.lockSettings);
      try {
        crashPoint("locked");
        this.sweepTempFiles();
        const db = new Low<JournalDoc>(new DurableJsonFile(this.location), emptyDoc());
        await db.read();
        crashPoint("read");
        const tx: Transaction = { changed: false, history: [] };
        const result = mutate(db.data, tx);
        if (tx.changed) {
          lock.assertHeld();
          if (tx.history.length > 0) {
            const path = join(this.home, db.data.history.file);
            db.data.history.bytes = appendHistory(path, db.data.history.bytes, tx.history.map(historyLine));
            crashPoint("history-appended");
          }
          db.data.rev += 1;
          lock.assertHeld();
          await db.write();
        }
        crashPoint("before-unlock");
        return result;
      } catch (error) {
        // Someone else wrote while we believed we held the lock: start over from a fresh read.
        if ((error instanceof RevisionConflict || error instanceof LockCompromisedError) && attempt < MAX_ATTEMPTS) continue;
        throw error;
      } finally {
        await lock.release();
      }
    }
  }

  /** Temp files of writers killed mid-write; only ever removed under the lock, once they are old. */
  private sweepTempFiles(): void {
    if (this.swept) return;
    this.swept = true;
    const cutoff = Date.now() - this.lockSettings.staleMs;
    for (const name of readdirSync(this.home)) {
      // Ours are .journal.json.<pid>-<random>.tmp; steno (lowdb's own writer) leaves .journal.json.tmp.
      if (!/^\.journal\.json\.(.*\.)?tmp$/.test(name)) continue;
      const path = join(this.home, name);
      try {
        if (statSync(path).mtimeMs < cutoff) unlinkSync(path);
      } catch {
        // gone already
      }
    }
  }

  private async snapshot(): Promise<JournalDoc> {
    return (await new DurableJsonFile(this.location).read()) ?? emptyDoc();
  }

  // ---- helpers over the active set ---------------------------------------------------------

  /** Replaces a task in the active set, moving it to history when it became final. */
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
    tx.changed = true;
  }

  private heldTask(doc: JournalDoc, id: string, lease: string): TaskRecord {
    const task = doc.tasks.find((t) => t.id === id);
    if (!task || !isHeldBy(task, lease)) throw new LeaseLostError(id);
    return task;
  }

  private pruneSlots(doc: JournalDoc, tx: Transaction, now: Date, liveness: LivenessCheck): WorkerSlot[] {
    const live = doc.workers.filter((slot) =>
      slot.process === null
        ? now.getTime() - Date.parse(slot.reservedAt) < SLOT_RESERVATION_MS
        : liveness(slot.process) !== "dead",
    );
    if (live.length !== doc.workers.length) {
      doc.workers = live;
      tx.changed = true;
    }
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
        doc.tasks.push(task);
        return task;
      });
      tx.changed = created.length > 0;
      let workerSlot: string | null = null;
      if (options.maxWorkers !== null) {
        const live = this.pruneSlots(doc, tx, now, options.liveness);
        const demand = doc.tasks.filter((t) => t.status === "running" || isRunnable(t, now)).length;
        if (live.length < options.maxWorkers && live.length < demand) {
          workerSlot = token();
          doc.workers.push({ slot: workerSlot, reservedAt: now.toISOString(), process: null });
          tx.changed = true;
        }
      }
      return { tasks: created, workerSlot };
    });
  }

  claimNext(slot: string, worker: WorkerRef, now: Date, options: ClaimOptions): Promise<TaskRecord | null> {
    return this.transact((doc, tx) => {
      this.recoverDead(doc, tx, now, options);
      this.pruneSlots(doc, tx, now, options.liveness);
      const next = pickNext(doc.tasks, now);
      if (!next) return null;
      const claimed = claim(next, worker, token(), now);
      this.put(doc, tx, claimed);
      return claimed;
    });
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.transact((doc, tx) => {
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
    return this.transact((doc, tx) => {
      const settled = settle(this.heldTask(doc, id, lease), outcome, now);
      this.put(doc, tx, settled);
      return settled;
    });
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.transact((doc, tx) => {
      const entry = doc.workers.find((w) => w.slot === slot);
      if (entry) entry.process = worker;
      else doc.workers.push({ slot, reservedAt: now.toISOString(), process: worker });
      tx.changed = true;
    });
  }

  retireWorker(slot: string, now: Date, idleWindowMs: number): Promise<RetireResult> {
    return this.transact((doc, tx) => {
      if (pickNext(doc.tasks, now)) return { retired: false, nextDueAt: null };
      const dueSoon = doc.tasks
        .filter((t) => (t.status === "scheduled" || t.status === "paused") && t.nextRunAt !== null)
        .map((t) => t.nextRunAt!)
        .filter((at) => Date.parse(at) - now.getTime() <= idleWindowMs)
        .sort()[0];
      if (dueSoon) return { retired: false, nextDueAt: dueSoon };
      doc.workers = doc.workers.filter((w) => w.slot !== slot);
      tx.changed = true;
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
