// The files behind the default journal and the one way to change them. journal.json is a lowdb
// document holding the active set as of its last compaction; journal.<n>.log holds every change
// committed since, one transaction per append. A process keeps the document in memory and, under
// the lock, reads only what others appended since its last look, so a change costs what it
// changed. When the log outgrows the snapshot it is folded into a new journal.json.
import { chmodSync, closeSync, readdirSync, statSync, unlinkSync, type Stats } from "node:fs";
import { statSignature } from "../../host/file-watch.ts";
import { join } from "node:path";
import { Low } from "lowdb";
import { asJournalError, JournalCorruptError } from "../../errors.ts";
import { ensureHome } from "../../host/home.ts";
import { checkMark, MARK_FILE, readMark, writeMark } from "./commit-mark.ts";
import { crashPoint } from "./crash-points.ts";
import { DurableJsonFile, FILE_MODE, readHead, RevisionConflict, appendLines } from "./durable-file.ts";
import { historyLine, type HistoryEntry } from "./archive.ts";
import { indexAppended } from "./archive-index.ts";
import {
  appendTransaction,
  containsCommit,
  createLog,
  logSize,
  metaOf,
  openLog,
  readLogFrom,
  readOpenLog,
  replay,
  type LogEntry,
  type LoggedEvents,
  type Meta,
} from "./write-ahead-log.ts";
import { acquireLock, LockCompromisedError, sweepIdentities, type LockSettings } from "./lock.ts";
import { emptyDoc, JOURNAL_VERSION, QUEUE_FILE, type JournalDoc } from "./schema.ts";
import { countOf } from "../../core/stats.ts";
import { addCounters, type Counters } from "../../core/counters.ts";
import type { NewEvent } from "../../core/events.ts";
import { archiveEvents } from "./event-archive.ts";
import type { TaskRecord } from "../../core/task.ts";

/**
 * What a mutation reports besides changing the document: the ids of tasks it inserted, replaced
 * or removed in `doc.tasks` (tasks are values: replace them, never edit them in place), and final
 * tasks for the history. Meta fields (nextId, workers) are compared, not reported.
 */
export interface Transaction {
  touched: Set<string>;
  history: HistoryEntry[];
  /** New tasks for the cold queue's segment, in id order (never in `doc.tasks`). */
  cold: TaskRecord[];
  /** What the transaction counted (core/counters.ts): logged as one entry, added to the document's. */
  counts: Counters;
  /** Its events (core/events.ts), in order: logged as one entry. */
  events: NewEvent[];
}

const MAX_ATTEMPTS = 5;
/** The log is folded into a new journal.json once it outgrows this and the snapshot (the model test pads a change past it). */
export const MIN_COMPACT_BYTES = 256 * 1024;

interface Loaded {
  doc: JournalDoc;
  /** Identity of the journal.json this state was built from. */
  snapshot: string;
  snapshotBytes: number;
  /** Committed length of doc.log replayed into `doc`. */
  logBytes: number;
  /** The rev journal.json was written at: events up to it are archived (event-archive.ts), those after it are in `events`. */
  snapshotRev: number;
  /** The events of the transactions doc.log holds, in order. */
  events: LoggedEvents[];
}

function identity(stat: Stats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/** The log a journal.json head (readHead) names, or undefined when the head does not say. */
function logNamedBy(head: string | null): string | undefined {
  return head ? /"log":"(journal\.\d+\.log)"/.exec(head)?.[1] : undefined;
}

/** A file that is not there (ENOENT), as fs raised it or as a journal error wraps it. */
export function isMissingFile(error: unknown): boolean {
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause ?? (error as NodeJS.ErrnoException);
  return cause?.code === "ENOENT";
}

function tryStat(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

export class JournalFiles {
  readonly dir: string;
  readonly path: string;
  private readonly lockSettings: LockSettings;
  private cache: Loaded | null = null;
  private swept = false;
  private homeChecked = false;

  constructor(dir: string, lockSettings: LockSettings) {
    this.dir = dir;
    this.path = join(dir, "journal.json");
    this.lockSettings = lockSettings;
  }

  /** Changes whenever a transaction commits: journal.json's identity and the size of the log it names. */
  signature(): string {
    const snapshot = statSignature(this.path);
    let head: string | null = null;
    try {
      head = readHead(this.path);
    } catch {
      // unreadable now: the snapshot's signature alone says so
    }
    const log = logNamedBy(head);
    return log ? `${snapshot}|${logSize(join(this.dir, log))}` : snapshot;
  }

  /**
   * A consistent view without taking the lock (files only ever change by rename or append).
   * `cached` brings this process's own document up to date instead of loading another, as a
   * transaction does: for a read a process repeats, or one just before its next transaction. That
   * document is the one transactions change: the caller copies what it keeps.
   */
  async read(cached = false): Promise<JournalDoc> {
    return (await this.view(cached)).doc;
  }

  /** The events after the snapshot (its log's), the rev the snapshot was written at and the last rev, as `read(true)` sees the journal; the list is a copy. */
  async loggedEvents(): Promise<{ rev: number; snapshotRev: number; events: LoggedEvents[] }> {
    const { doc, snapshotRev, events } = await this.view(true);
    return { rev: doc.rev, snapshotRev, events: [...events] };
  }

  private async view(cached: boolean): Promise<Pick<Loaded, "doc" | "snapshotRev" | "events">> {
    for (;;) {
      const stat = tryStat(this.path);
      if (!stat) {
        this.assertNothingLeft();
        return { doc: emptyDoc(), snapshotRev: 0, events: [] };
      }
      try {
        return cached ? await this.refresh(stat) : await this.load(stat);
      } catch (error) {
        // The log we were told about was folded away by a compaction in between, which replaced
        // journal.json first: read the new one, however many times that happens. Missing while
        // journal.json is the one that names it, the log is lost.
        const now = tryStat(this.path);
        if (isMissingFile(error) && (now === null || identity(now) !== identity(stat))) continue;
        throw asJournalError(error, this.path);
      }
    }
  }

  /**
   * Runs `mutate` on the current document under the lock and commits what it changed. `durable`
   * (the default) syncs the commit to disk before returning; worker bookkeeping (claims, reports,
   * results) skips the sync, because after a power loss at-least-once delivery runs the task again.
   */
  async transact<T>(mutate: (doc: JournalDoc, tx: Transaction) => T, durable = true): Promise<T> {
    // Checked (and made) once per process: a draining worker paid a mkdir and an lstat per task.
    if (!this.homeChecked) {
      try {
        ensureHome(this.dir);
      } catch (error) {
        throw asJournalError(error, this.dir);
      }
      this.homeChecked = true;
    }
    for (let attempt = 1; ; attempt++) {
      const lock = await acquireLock(this.dir, join(this.dir, "journal.lock"), this.lockSettings);
      let committed = false;
      try {
        crashPoint("locked");
        const loaded = await this.current();
        crashPoint("read");
        this.sweep(loaded.doc);
        const meta = JSON.stringify(metaOf(loaded.doc));
        const tx: Transaction = { touched: new Set(), history: [], cold: [], counts: {}, events: [] };
        const result = mutate(loaded.doc, tx);
        const entries = this.changes(loaded.doc, tx, meta);
        if (entries.length > 0) {
          // Before each file is touched: the lock is still ours and nobody wrote past what we read
          // (a holder judged by age alone may have lost it while frozen).
          const fence = () => {
            lock.assertHeld();
            this.assertUnmoved(loaded);
          };
          this.commit(loaded, entries, tx, durable, fence);
          committed = true;
          if (loaded.logBytes > Math.max(MIN_COMPACT_BYTES, loaded.snapshotBytes)) await this.compact(loaded, fence);
        }
        crashPoint("before-unlock");
        return result;
      } catch (error) {
        // Whatever the mutation did to the cached document is not on disk: start from the files.
        this.cache = null;
        // A committed change is never made twice: only a write that was refused before it landed is tried again.
        if (!committed && (error instanceof RevisionConflict || error instanceof LockCompromisedError) && attempt < MAX_ATTEMPTS) continue;
        throw asJournalError(error, this.path);
      } finally {
        await lock.release();
      }
    }
  }

  /** The cached document brought up to date, or a fresh load; creates the journal when absent. */
  private async current(): Promise<Loaded> {
    const stat = tryStat(this.path);
    if (!stat) {
      this.assertNothingLeft();
      this.cache = await this.writeSnapshot(emptyDoc());
      return this.cache;
    }
    if ((stat.mode & 0o077) !== 0) chmodSync(this.path, FILE_MODE);
    return this.refresh(stat);
  }

  /** The cached document with what was committed since replayed, or a fresh load when journal.json is another. */
  private async refresh(stat: Stats): Promise<Loaded> {
    if (this.cache && this.cache.snapshot === identity(stat)) {
      const logPath = join(this.dir, this.cache.doc.log);
      const size = logSize(logPath);
      // Our log was folded away: journal.json is another even though it looks the same (a reused inode, a coarse clock).
      if (size === -1) {
        this.cache = await this.load(stat);
        return this.cache;
      }
      if (size > this.cache.logBytes) {
        this.cache.logBytes += replay(logPath, this.cache.doc, readLogFrom(logPath, this.cache.logBytes), this.cache.events);
      }
      return this.cache;
    }
    this.cache = await this.load(stat);
    return this.cache;
  }

  private async load(stat: Stats): Promise<Loaded> {
    // Before the snapshot and the log: whatever a writer adds meanwhile only puts them further ahead.
    const mark = readMark(this.dir);
    // The log the head names is opened before the snapshot is read, and read through that fd: a
    // compaction may unlink it in between (reads of one process interleave at the await), and an
    // open file stays readable.
    let named: string | undefined;
    let fd: number | null = null;
    try {
      named = logNamedBy(readHead(this.path));
      if (named !== undefined) fd = openLog(join(this.dir, named));
    } catch {
      // Gone already: the snapshot read next names a newer log. Anything else wrong with either is named by the reads below.
    }
    try {
      const adapter = new DurableJsonFile(this.path);
      const db = new Low<JournalDoc>(adapter, emptyDoc());
      await db.read();
      const logPath = join(this.dir, db.data.log);
      const bytes = fd !== null && db.data.log === named ? readOpenLog(logPath, fd, 0) : readLogFrom(logPath, 0);
      const snapshotRev = db.data.rev;
      const events: LoggedEvents[] = [];
      const logBytes = replay(logPath, db.data, bytes, events);
      checkMark(mark, logPath, db.data);
      return { doc: db.data, snapshot: identity(stat), snapshotBytes: stat.size, logBytes, snapshotRev, events };
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** Log entries for what `mutate` reported touching, plus the meta fields when they moved. */
  private changes(doc: JournalDoc, tx: Transaction, metaBefore: string): LogEntry[] {
    const entries: LogEntry[] = [];
    if (tx.touched.size > 0) {
      // Bulk inserts touch thousands: index once rather than scan per id.
      const byId = tx.touched.size > 16 ? new Map(doc.tasks.map((t) => [t.id, t])) : null;
      for (const id of tx.touched) {
        const task = byId ? byId.get(id) : doc.tasks.find((t) => t.id === id);
        entries.push(task ? { put: task } : { del: id });
      }
    }
    if (tx.history.length > 0 || tx.cold.length > 0 || JSON.stringify(metaOf(doc)) !== metaBefore) entries.push({ meta: metaOf(doc) });
    if (tx.events.length > 0) entries.push({ events: tx.events });
    if (Object.keys(tx.counts).length > 0) {
      entries.push({ count: tx.counts });
      doc.counters ??= {};
      addCounters(doc.counters, tx.counts);
    }
    return entries;
  }

  /**
   * Proves, under the lock, that nobody committed since this process last looked: journal.json is
   * the one it read, and past the committed length of its log there is no complete commit line
   * (replay's rule). Bytes there were left by a writer that died mid-append, and only then may the
   * commit cut them, and the history's tail, which a commit line always follows.
   */
  private assertUnmoved(loaded: Loaded): void {
    const stat = tryStat(this.path);
    if (!stat || identity(stat) !== loaded.snapshot) throw new RevisionConflict(`${this.path} was replaced under us`);
    const logPath = join(this.dir, loaded.doc.log);
    const size = logSize(logPath);
    if (size < loaded.logBytes) throw new RevisionConflict(`${logPath} is shorter than the ${loaded.logBytes} bytes replayed`);
    if (size > loaded.logBytes && containsCommit(readLogFrom(logPath, loaded.logBytes))) {
      throw new RevisionConflict(`${logPath} has a commit past the ${loaded.logBytes} bytes replayed`);
    }
  }

  private commit(loaded: Loaded, entries: LogEntry[], tx: Transaction, durable: boolean, fence: () => void): void {
    const { doc } = loaded;
    fence();
    if (tx.cold.length > 0) {
      const queuePath = join(this.dir, doc.queue.file);
      doc.queue.bytes = appendLines(queuePath, doc.queue.bytes, tx.cold.map(historyLine), durable);
      doc.queue.count += tx.cold.length;
      const executors = doc.queue.executors;
      if (executors) for (const task of tx.cold) executors[task.executor] = countOf(executors, task.executor) + 1;
      crashPoint("queue-appended");
      fence();
    }
    if (tx.history.length > 0) {
      const historyPath = join(this.dir, doc.history.file);
      const start = doc.history.bytes;
      const lines = tx.history.map(historyLine);
      doc.history.bytes = appendLines(historyPath, start, lines, durable);
      crashPoint("history-appended");
      const ids = tx.history.map((entry) => entry.id);
      indexAppended(
        historyPath,
        start,
        ids,
        lines.map((line) => Buffer.byteLength(line)),
        durable,
      );
      crashPoint("history-indexed");
      fence();
    }
    // The meta entry was made before the appends: point it at the new committed lengths.
    const meta = entries.find((e): e is { meta: Meta } => "meta" in e);
    if (meta) meta.meta = metaOf(doc);
    doc.rev += 1;
    const logPath = join(this.dir, doc.log);
    loaded.logBytes = appendTransaction(logPath, loaded.logBytes, entries, doc.rev, durable);
    if (tx.events.length > 0) loaded.events.push({ rev: doc.rev, events: tx.events });
    if (durable) writeMark(this.dir, { rev: doc.rev, log: doc.log, bytes: loaded.logBytes, nextId: doc.nextId });
    crashPoint("log-appended");
  }

  /**
   * Folds the log into a new journal.json naming a fresh log; the old log is then garbage. It runs
   * after the commit, which stands whether or not this succeeds: a compaction that fails (a full
   * disk) is left to the next writer, never reported as a failed change.
   */
  private async compact(loaded: Loaded, fence: () => void): Promise<void> {
    const generation = Number(/\d+/.exec(loaded.doc.log)![0]) + 1;
    const oldLog = join(this.dir, loaded.doc.log);
    try {
      // Before the log that holds them goes.
      fence();
      archiveEvents(this.dir, loaded.events);
      this.cache = await this.writeSnapshot({ ...loaded.doc, version: JOURNAL_VERSION, log: `journal.${generation}.log` }, fence);
    } catch {
      this.cache = null;
      return;
    }
    try {
      unlinkSync(oldLog);
    } catch {
      // already gone
    }
  }

  /**
   * journal.json is absent: a new journal, unless the home still holds what an existing one wrote
   * after its first snapshot (the mark, a history). Starting empty then would hand out the ids of
   * tasks that exist, so it is refused and left to `bgtask doctor --repair`.
   */
  private assertNothingLeft(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return; // no home yet
    }
    const left = [MARK_FILE, ...names.filter((name) => /^history[\w.-]*\.jsonl$/.test(name))].filter((name) => (tryStat(join(this.dir, name))?.size ?? 0) > 0);
    if (left.length > 0) throw new JournalCorruptError(this.path, `it is missing, but the home holds ${left.sort().join(", ")} of a journal`);
  }

  /** Writes journal.json (through lowdb, with our durable adapter) for `doc` with a fresh empty log. */
  private async writeSnapshot(doc: JournalDoc, beforeRename?: () => void): Promise<Loaded> {
    createLog(join(this.dir, doc.log));
    const adapter = new DurableJsonFile(this.path, beforeRename);
    // Arms the adapter's check that journal.json did not change before the rename: its head is
    // enough (reading the whole snapshot here parsed the active set a second time per compaction).
    adapter.expectCurrent();
    const db = new Low<JournalDoc>(adapter, doc);
    await db.write();
    writeMark(this.dir, { rev: doc.rev, log: doc.log, bytes: 0, nextId: doc.nextId });
    crashPoint("snapshot-written");
    const stat = statSync(this.path);
    return { doc, snapshot: identity(stat), snapshotBytes: stat.size, logBytes: 0, snapshotRev: doc.rev, events: [] };
  }

  /** Temp files and logs of writers killed mid-write; removed under the lock once they are old. */
  private sweep(doc: JournalDoc): void {
    if (this.swept) return;
    this.swept = true;
    const cutoff = Date.now() - this.lockSettings.staleMs;
    const names = readdirSync(this.dir);
    sweepIdentities(this.dir, names);
    for (const name of names) {
      // Ours are .journal.json.<pid>-<random>.tmp; steno (lowdb's own writer) leaves .journal.json.tmp.
      const isTemp = /^\.journal\.json\.(.*\.)?tmp$/.test(name);
      const isOldLog = /^journal\.\d+\.log$/.test(name) && name !== doc.log;
      // Segments used up before the current one, or one a crashed writer began.
      const isOldSegment = QUEUE_FILE.test(name) && name !== doc.queue.file;
      if (!isTemp && !isOldLog && !isOldSegment) continue;
      const path = join(this.dir, name);
      try {
        if (statSync(path).mtimeMs < cutoff) unlinkSync(path);
      } catch {
        // gone already
      }
    }
  }
}
