// The stores a model run drives side by side, each behind one shape: its store, how to close and
// open it again on the same journal, and how to make it fold what it keeps (the file journal's
// compaction; nothing for the others).
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { readHead } from "../../src/journal/file/durable-file.ts";
import { MIN_COMPACT_BYTES } from "../../src/journal/file/journal-files.ts";
import { FileStore } from "../../src/journal/file/store.ts";
import { MemoryStore } from "../../src/journal/memory/store.ts";
import { openStore } from "../../src/journal/open.ts";
import type { JournalStore } from "../../src/journal/store.ts";

const LOCK = { staleMs: 2_000, waitMs: 10_000 };

export interface Subject {
  readonly name: string;
  store: JournalStore;
  /** Closes the store and opens it again on the same journal, as the next command would. */
  reopen(): Promise<void>;
  /** Makes the store rewrite what it keeps from what it logged, if it does such a thing. */
  compact(): Promise<void>;
  /** Closes the store and removes what it left. */
  dispose(): Promise<void>;
  /** Each slot this store handed out, by the label the run gave it: slot names are random per store. */
  readonly slots: Map<string, string>;
  /** The last lease this store gave each task: a lease that no longer holds its task is how a presumed-dead worker writes. */
  readonly leases: Map<string, string>;
  /** The cursor after the last event an observation read: each reads only the events since (their cursors are each store's own). */
  eventCursor: string | null;
}

function subject(name: string, store: JournalStore, parts: Pick<Subject, "reopen" | "compact" | "dispose">): Subject {
  return { name, store, slots: new Map(), leases: new Map(), eventCursor: null, ...parts };
}

/** The reference: every rule from core/, nothing kept anywhere but in memory, so nothing to lose. */
export function memorySubject(): Subject {
  return subject("memory", new MemoryStore(), { reopen: async () => {}, compact: async () => {}, dispose: async () => {} });
}

/** The log journal.json names, and its generation; null before the journal's first commit. */
function logOf(home: string): { name: string; generation: number } | null {
  const found = /"log":"(journal\.(\d+)\.log)"/.exec(readHead(join(home, "journal.json")) ?? "");
  return found ? { name: found[1]!, generation: Number(found[2]) } : null;
}

/** A file's size; 0 for one not made yet (the log of a journal before its first commit). */
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

/**
 * Makes the file journal compact: it folds its log into journal.json when a commit leaves the log
 * longer than MIN_COMPACT_BYTES and the snapshot. Through the store, as a worker registering and
 * releasing its slot: a slot whose host name is long enough brings the log to just short of
 * that, and the release (a small commit) carries it past, so the journal compacts then and its
 * new snapshot holds no padding (with one, every read after parsed a quarter of a megabyte).
 * Tasks, queues and schedules are left as they were.
 */
async function compactFileJournal(store: JournalStore, home: string): Promise<void> {
  const pad = async (host: string) => {
    await store.registerWorker(PADDING_SLOT, { pid: 1, host, startTime: null, bootId: null }, new Date(0));
    await store.releaseWorker(PADDING_SLOT);
  };
  // The first commit makes the journal.
  if (logOf(home) === null) await pad("p");
  const before = logOf(home)!.generation;
  const compacted = () => logOf(home)!.generation > before;
  for (let round = 0; round < 4 && !compacted(); round++) {
    // A probe with a one-letter host measures what a registration and a release add to the log.
    const log = join(home, logOf(home)!.name);
    const start = sizeOf(log);
    await store.registerWorker(PADDING_SLOT, { pid: 1, host: "p", startTime: null, bootId: null }, new Date(0));
    const registered = sizeOf(log);
    await store.releaseWorker(PADDING_SLOT);
    if (compacted()) break;
    const released = sizeOf(log);
    // The slot names its host twice (the slot's and its process's).
    const room =
      Math.max(MIN_COMPACT_BYTES, sizeOf(join(home, "journal.json"))) - released - (registered - start - 2) - Math.floor((released - registered) / 2);
    if (room >= 2) await pad("h".repeat(Math.floor(room / 2)));
  }
  if (!compacted()) throw new Error(`the padding did not compact the journal (log generation ${before})`);
  if (readFileSync(join(home, "journal.json"), "latin1").includes('"host":"hh')) throw new Error("the padding slot was folded into journal.json");
}

const PADDING_SLOT = "padding";

/**
 * In memory where the machine has such a folder: a model run checks what the journal keeps and
 * shows, not what survives a power loss (test/e2e/crash.test.ts does), and the fsync of every
 * acknowledged commit on a disk made each command ten times slower.
 */
const TEMP = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();

/** The file journal in a temp home, keeping at most `hotLimit` tasks hot (new plain ones past it wait in its cold queue). */
export async function fileSubject(hotLimit: number): Promise<Subject> {
  const root = mkdtempSync(join(TEMP, "bgtask-model-"));
  const home = join(root, "home");
  const self = subject("file", new FileStore(home, LOCK, { hotLimit }), {
    reopen: async () => {
      await self.store.close();
      self.store = new FileStore(home, LOCK, { hotLimit });
    },
    compact: () => compactFileJournal(self.store, home),
    dispose: async () => {
      await self.store.close();
      rmSync(root, { recursive: true, force: true });
    },
  });
  return self;
}

let schemas = 0;

/** The PostgreSQL journal in a fresh schema of the database `url` names. */
export async function pgSubject(url: string): Promise<Subject> {
  const schema = `model_${process.pid}_${++schemas}`;
  const location = `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`;
  const self = subject("postgres", await openStore(location, LOCK), {
    reopen: async () => {
      await self.store.close();
      self.store = await openStore(location, LOCK);
    },
    compact: async () => {},
    dispose: async () => {
      await self.store.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    },
  });
  return self;
}
