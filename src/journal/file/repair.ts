// `bgtask doctor --repair`: under the journal lock, copies every journal file byte for byte into
// damaged-<time>/ beside them, then rebuilds a consistent journal from what salvage.ts could
// read (a new history generation and its index, a fresh log, journal.json, the mark) and says
// which ids it could not recover. Ids are never handed out twice: nextId passes every id seen.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { JournalError } from "../../errors.ts";
import { compareIds } from "../../core/transitions.ts";
import { markPath, writeMark } from "./commit-mark.ts";
import { checkIndex, judge, JOURNAL_FILE, type DoctorReport } from "./doctor.ts";
import { fsyncDir, replaceDoc, appendLines } from "./durable-file.ts";
import { historyLine, isTombstone } from "./archive.ts";
import type { TaskRecord } from "../../core/task.ts";
import { indexAppended } from "./archive-index.ts";
import { createLog } from "./write-ahead-log.ts";
import { archiveEvents } from "./event-archive.ts";
import { acquireLock, type LockSettings } from "./lock.ts";
import { highestGeneration, salvage, type HistoryLine, type Salvage } from "./salvage.ts";
import { countOf } from "../../core/stats.ts";
import { emptyDoc, emptyQueue, QUEUE_FILE, stateOf, type JournalDoc } from "./schema.ts";

export interface RepairReport {
  home: string;
  /** False when the journal was healthy: nothing was copied or written. */
  repaired: boolean;
  /** What doctor found before the repair. */
  before: DoctorReport;
  /** Where the byte-exact copies of the journal files went. */
  copies: string | null;
  /** Tasks in the rebuilt journal (active and finished; removed ones are not counted). */
  kept: number;
  active: number;
  finished: number;
  /** Ids handed out that are in no readable record. */
  lost: string[];
  /** Ids kept, but in a state older than one the damage took away. */
  stale: string[];
  /** Ids kept from bytes that failed their checksum: as read, possibly with a changed value. */
  unverified: string[];
  /** Ids below nextId with no trace: lost, or removed by `remove --finished` before a history compaction. */
  unknown: string[];
  /** Committed transactions that are gone, by rev. */
  lostRevs: { from: number; to: number | null } | null;
  nextId: number;
  /** True when anything committed was not carried over (the exit code 1 of --repair). */
  lostSomething: boolean;
}

/** Safe ids only: a damaged byte can make any number. */
const MAX_PLAUSIBLE_ID = 2 ** 40;

function sorted(ids: Iterable<string>): string[] {
  return [...new Set(ids)].sort(compareIds);
}

/** Copies every journal file into a new folder of the home, exactly; a folder in journal.json's place is moved there. */
function keepCopies(home: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  let dir = join(home, `damaged-${stamp}`);
  for (let n = 2; existsSync(dir); n++) dir = join(home, `damaged-${stamp}-${n}`);
  mkdirSync(dir, { mode: 0o700 });
  for (const name of readdirSync(home)) {
    if (!JOURNAL_FILE.test(name)) continue;
    const from = join(home, name);
    const to = join(dir, name);
    const stat = lstatSync(from);
    if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else if (stat.isDirectory()) renameSync(from, to);
    else copyFileSync(from, to);
  }
  fsyncDir(dir);
  return dir;
}

interface Rebuilt {
  doc: JournalDoc;
  lines: HistoryLine[];
  /** The cold queue's tasks that nothing newer supersedes, in id order. */
  cold: TaskRecord[];
  report: Omit<RepairReport, "home" | "repaired" | "before" | "copies">;
}

/** The consistent journal `found` allows, and what it could not carry over. */
export function rebuild(found: Salvage, indexed: Set<string>): Rebuilt {
  const { snapshot, log, history, mark, queue } = found;
  const doc = snapshot.doc;
  const newestLine = new Map<string, HistoryLine>();
  for (const line of history.lines) newestLine.set(line.entry.id, line);
  // A history line written after the transaction that last put a task is its newer state.
  const active = doc.tasks.filter((task) => {
    const line = newestLine.get(task.id);
    return !line || line.offset < (log.putAt.get(task.id) ?? 0);
  });
  const activeIds = new Set(active.map((t) => t.id));
  // A cold task claimed in a transaction the damage took is still in the segment: its active or final state is newer.
  const cold = queue.tasks.filter((task) => !activeIds.has(task.id) && !newestLine.has(task.id));
  const recovered = new Set([...activeIds, ...newestLine.keys(), ...cold.map((t) => t.id)]);
  const finished = [...newestLine.values()].filter((line) => !activeIds.has(line.entry.id) && !isTombstone(line.entry)).length;

  const plausible = (id: string) => Number(id) <= MAX_PLAUSIBLE_ID;
  const mentioned = new Set([...found.mentioned].filter(plausible));
  const highest = (ids: Iterable<string>) => Math.max(0, ...[...ids].filter(plausible).map(Number));
  const trustedNext = Math.max(1, doc.nextId, mark.mark?.nextId ?? 0, highest(recovered) + 1);
  // Ids the index has lines for existed, whether or not the history still holds them.
  const seen = new Set(mentioned);
  for (const id of indexed) if (Number(id) < trustedNext) seen.add(id);
  const nextId = Math.max(trustedNext, highest(seen) + 1);

  // Until the history is first compacted (history.jsonl), a removed task keeps its tombstone: an id
  // below nextId found nowhere was lost. After, `remove --finished` leaves no trace of what it removed.
  const compacted = history.path.endsWith("/history.jsonl") === false;
  const gaps: string[] = [];
  for (let k = 1; k < trustedNext; k++) if (!recovered.has(String(k))) gaps.push(String(k));
  const lost = sorted([...gaps.filter((id) => !compacted || seen.has(id)), ...[...seen].filter((id) => !recovered.has(id))]);
  const unknown = compacted ? sorted(gaps.filter((id) => !seen.has(id))) : [];
  const unverified = snapshot.crcMismatch ? sorted(active.filter((t) => !log.logged.has(t.id)).map((t) => t.id)) : [];
  const keptBytes = doc.history.bytes;
  const newerThanDamage = (id: string) => !history.badIds.has(id) && (newestLine.get(id)?.offset ?? -1) >= keptBytes && !activeIds.has(id);
  const stale = sorted([...mentioned].filter((id) => recovered.has(id) && !newerThanDamage(id) && !unverified.includes(id)));

  const rev = Math.max(doc.rev, log.highestRev, mark.mark?.rev ?? 0) + 1;
  // The state as read (paused queues, schedule slots, …): a repair does not restart a queue someone
  // stopped nor fire a slot again, nor set the counters back. The history and the queue are rewritten by writeJournal.
  const rebuilt: JournalDoc = { ...emptyDoc(), ...stateOf(doc), counters: doc.counters ?? {}, rev, nextId, tasks: active };
  return {
    doc: rebuilt,
    lines: history.lines,
    cold,
    report: {
      kept: active.length + cold.length + finished,
      active: active.length + cold.length,
      finished,
      lost,
      stale,
      unverified,
      unknown,
      lostRevs: log.lostRevs,
      nextId,
      lostSomething: lost.length > 0 || stale.length > 0 || unverified.length > 0 || log.lostRevs !== null,
    },
  };
}

/** Writes the rebuilt journal as new files, then removes the ones it replaces (their copies are kept). */
function writeJournal(home: string, { doc, lines, cold }: Rebuilt): void {
  const historyFile = `history.${Math.max(1, highestGeneration(home, /^history(?:\.(\d+))?\.jsonl$/)) + 1}.jsonl`;
  const logFile = `journal.${highestGeneration(home, /^journal\.(\d+)\.log$/) + 1}.log`;
  const historyPath = join(home, historyFile);
  const texts = lines.map((line) => line.bytes.toString("utf8"));
  const bytes = appendLines(historyPath, 0, texts, true);
  indexAppended(
    historyPath,
    0,
    lines.map((line) => line.entry.id),
    lines.map((line) => line.bytes.length),
    true,
  );
  const queueFile = `queue.${highestGeneration(home, QUEUE_FILE) + 1}.jsonl`;
  const queueBytes = appendLines(join(home, queueFile), 0, cold.map(historyLine), true);
  createLog(join(home, logFile));
  const executors: Record<string, number> = {};
  for (const task of cold) executors[task.executor] = countOf(executors, task.executor) + 1;
  const queue = { ...emptyQueue(queueFile), bytes: queueBytes, count: cold.length, executors };
  const final: JournalDoc = { ...doc, log: logFile, history: { file: historyFile, bytes }, queue };
  replaceDoc(join(home, "journal.json"), final);
  // A mark that is not a plain file (a link) would never be rewritten: start it anew.
  rmSync(markPath(home), { force: true, recursive: true });
  writeMark(home, { rev: final.rev, log: logFile, bytes: 0, nextId: final.nextId });
  const keep = new Set(["journal.json", "journal.mark", historyFile, historyFile.replace(/\.jsonl$/, ".idx"), logFile, queueFile]);
  for (const name of readdirSync(home)) {
    if (JOURNAL_FILE.test(name) && !keep.has(name)) unlinkSync(join(home, name));
  }
  fsyncDir(home);
}

/** `bgtask doctor --repair` on the journal folder `home`. */
export async function repair(home: string, lockSettings: LockSettings): Promise<RepairReport> {
  if (!existsSync(home)) {
    const before = judge(await salvage(home));
    return {
      home,
      repaired: false,
      before,
      copies: null,
      kept: 0,
      active: 0,
      finished: 0,
      lost: [],
      stale: [],
      unverified: [],
      unknown: [],
      lostRevs: null,
      nextId: 1,
      lostSomething: false,
    };
  }
  const lock = await acquireLock(home, join(home, "journal.lock"), lockSettings);
  try {
    const found = await salvage(home);
    const before = judge(found);
    if (before.newer) {
      throw new JournalError("EJOURNALNEWER", `the journal in ${home} was written by a newer bgtask: check and repair it with that version`);
    }
    if (before.healthy) {
      const nothing = { kept: 0, active: 0, finished: 0, lost: [], stale: [], unverified: [], unknown: [], lostRevs: null };
      return { home, repaired: false, before, copies: null, ...nothing, nextId: found.snapshot.doc.nextId, lostSomething: false };
    }
    const copies = keepCopies(home);
    const rebuilt = rebuild(found, checkIndex(found.history.path, found.history.lines, found.history.committedBytes).indexed);
    lock.assertHeld();
    // The log that holds the newest events is replaced: they join the archive first.
    archiveEvents(home, found.log.events);
    writeJournal(home, rebuilt);
    return { home, repaired: true, before, copies, ...rebuilt.report };
  } finally {
    await lock.release();
  }
}
