// Reads a damaged journal as far as it can be trusted, for `bgtask doctor`: each file with the
// same checks the commands apply (so the problems it names are the ones they refuse), but going on
// past them to keep what still checks, and noting the ids found in what does not.
// It only reads; repair.ts writes.
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { JournalCorruptError } from "../../errors.ts";
import { markPath, markShortfall, readMark, type CommitMark } from "./commit-mark.ts";
import { DurableJsonFile } from "./durable-file.ts";
import { parseHistoryLine, type HistoryEntry } from "./archive.ts";
import { Applier, isCommitLine, keepEvents, type LoggedEvents, transactions } from "./write-ahead-log.ts";
import { parseColdLine } from "./cold-queue.ts";
import { compareIds } from "../../core/transitions.ts";
import type { TaskRecord } from "../../core/task.ts";
import { checkDoc, checkTask, emptyDoc, JOURNAL_VERSION, stateOf, type JournalDoc } from "./schema.ts";

/** What one file said: null when it passed every check the commands make. */
export interface FileFinding {
  path: string;
  exists: boolean;
  problem: string | null;
  notes: string[];
}

export interface SnapshotSalvage extends FileFinding {
  /** What could be read: its tasks that check, its head's fields (defaults when unreadable). */
  doc: JournalDoc;
  headRead: boolean;
  /** Written by a newer bgtask: never rewritten by this one. */
  newer: boolean;
  /** The bytes failed their checksum: the tasks were kept as read. */
  crcMismatch: boolean;
}

export interface LogSalvage extends FileFinding {
  /** The doc after every transaction that checks, up to the first that does not. */
  committedBytes: number;
  /** history.bytes after the transaction that last put or deleted each task. */
  putAt: Map<string, number>;
  /** Ids put by the log (they supersede the snapshot's). */
  logged: Set<string>;
  /** Revs that were committed but are not in what was kept (a damaged transaction on, or cut off). */
  lostRevs: { from: number; to: number | null } | null;
  highestRev: number;
  /** The events of the transactions kept, for the event archive: the repair replaces the log that holds them. */
  events: LoggedEvents[];
}

export interface HistoryLine {
  entry: HistoryEntry;
  offset: number;
  bytes: Buffer;
}

export interface HistorySalvage extends FileFinding {
  lines: HistoryLine[];
  committedBytes: number;
  size: number;
  /** Ids named in lines that do not parse or check, or in committed bytes that are gone. */
  badIds: Set<string>;
}

export interface QueueSalvage extends FileFinding {
  /** The cold tasks that check, from the cursor on, skipped ones left out. */
  tasks: TaskRecord[];
}

export interface MarkFinding extends FileFinding {
  mark: CommitMark | null;
}

export interface Salvage {
  home: string;
  mark: MarkFinding;
  snapshot: SnapshotSalvage;
  log: LogSalvage;
  history: HistorySalvage;
  queue: QueueSalvage;
  /** Ids seen in damaged or dropped bytes anywhere. */
  mentioned: Set<string>;
}

const ID_IN_BYTES = /"(?:id|del)":"([1-9][0-9]{0,15})"/g;

export function idsIn(bytes: Buffer | string, into: Set<string>): void {
  const text = typeof bytes === "string" ? bytes : bytes.toString("latin1");
  for (const match of text.matchAll(ID_IN_BYTES)) into.add(match[1]!);
}

function reasonOf(error: unknown): string {
  if (error instanceof JournalCorruptError) return error.reason;
  return (error as Error).message;
}

/** The highest generation of files named like `pattern` (one number group) in the home. */
export function highestGeneration(home: string, pattern: RegExp): number {
  let highest = 0;
  for (const name of existsSync(home) ? readdirSync(home) : []) {
    const match = pattern.exec(name);
    if (match) highest = Math.max(highest, Number(match[1] ?? 1));
  }
  return highest;
}

function salvageMark(home: string): MarkFinding {
  const path = markPath(home);
  try {
    return { path, exists: existsSync(path), problem: null, notes: [], mark: readMark(home) };
  } catch (error) {
    return { path, exists: true, problem: reasonOf(error), notes: [], mark: null };
  }
}

/** The head's fields one by one, keeping each that checks. */
function headFields(doc: JournalDoc, head: Record<string, unknown>): void {
  const candidate = { ...emptyDoc(), ...head, tasks: [] } as JournalDoc;
  for (const key of ["rev", "log", "counters", ...Object.keys(stateOf(candidate))] as Array<keyof JournalDoc>) {
    const trial = { ...emptyDoc(), [key]: candidate[key] };
    if (checkDoc(trial) === null) (doc as unknown as Record<string, unknown>)[key] = candidate[key];
  }
}

async function salvageSnapshot(home: string, mentioned: Set<string>): Promise<SnapshotSalvage> {
  const path = join(home, "journal.json");
  const base = { path, exists: existsSync(path) || isLink(path), notes: [], headRead: false, newer: false, crcMismatch: false };
  try {
    const doc = await new DurableJsonFile(path).read();
    if (doc) return { ...base, problem: null, doc, headRead: true };
    return { ...base, problem: null, doc: emptyDoc() };
  } catch (error) {
    const problem = reasonOf(error);
    const doc = emptyDoc();
    const result: SnapshotSalvage = { ...base, problem, doc, crcMismatch: /checksum/.test(problem) };
    if (!lstatSync(path).isFile()) return result;
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return result;
    }
    const lines = bytes.toString("utf8").split("\n");
    let head: unknown = null;
    const byLines = lines[0]!.endsWith(',"tasks":[');
    try {
      head = byLines ? JSON.parse(`${lines[0]}]}`) : JSON.parse(bytes.toString("utf8"));
    } catch {
      // no head to be had
    }
    if (typeof head === "object" && head !== null && !Array.isArray(head)) {
      const fields = head as Record<string, unknown>;
      if (typeof fields.version === "number" && fields.version > JOURNAL_VERSION) result.newer = true;
      headFields(doc, fields);
      result.headRead = fields.format === "bgtask-journal";
      // A doc parsed whole (laid out otherwise) brings its tasks along.
      if (!byLines && Array.isArray(fields.tasks)) lines.splice(1, lines.length, ...fields.tasks.map((t) => JSON.stringify(t)));
    }
    for (const line of lines.slice(1)) {
      const text = line.endsWith(",") ? line.slice(0, -1) : line;
      if (text === "" || text.startsWith("]")) continue;
      try {
        const task = JSON.parse(text) as unknown;
        if (checkTask(task) === null) doc.tasks.push(task as JournalDoc["tasks"][number]);
        else idsIn(text, mentioned);
      } catch {
        idsIn(text, mentioned);
      }
    }
    return result;
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** True when `rest` (the log's bytes after its last newline) is a commit line of a rev the mark covers. */
function isAcknowledgedTornCommit(rest: Buffer, mark: CommitMark | null): boolean {
  if (mark === null || !isCommitLine(rest)) return false;
  const rev = /^\{"commit":(\d+)[,}]/.exec(rest.toString("latin1"))?.[1];
  return rev !== undefined && Number(rev) <= mark.rev;
}

/** Replays the log onto `doc` transaction by transaction, stopping at the first that does not check. */
function salvageLog(home: string, snapshot: SnapshotSalvage, mark: CommitMark | null, mentioned: Set<string>): LogSalvage {
  const { doc } = snapshot;
  const named = join(home, doc.log);
  let path = named;
  if (!snapshot.headRead && !existsSync(named)) {
    const generation = highestGeneration(home, /^journal\.(\d+)\.log$/);
    if (generation > 0) path = join(home, `journal.${generation}.log`);
  }
  const result: LogSalvage = {
    path,
    exists: existsSync(path),
    problem: null,
    notes: [],
    committedBytes: 0,
    putAt: new Map(doc.tasks.map((t) => [t.id, doc.history.bytes])),
    logged: new Set(),
    lostRevs: null,
    highestRev: doc.rev,
    events: [],
  };
  if (!result.exists) {
    result.problem = "it is missing";
    return result;
  }
  const bytes = readFileSync(path);
  for (const match of bytes.toString("latin1").matchAll(/\{"commit":(\d+)/g)) result.highestRev = Math.max(result.highestRev, Number(match[1]));
  const applier = new Applier(doc);
  let problem: string | null = null;
  try {
    // A last commit line that lost only its newline (a cut by one byte, a disk that failed the last
    // write) is kept when the mark shows its rev was acknowledged; its checksum, checked as any
    // commit's, proves the transaction whole.
    const torn = (rest: Buffer) => isAcknowledgedTornCommit(rest, mark);
    for (const tx of transactions(path, bytes, snapshot.headRead ? doc.rev : null, torn)) {
      for (const entry of tx.entries) applier.apply(entry);
      applier.apply(tx.commit);
      keepEvents(result.events, tx);
      for (const entry of tx.entries) {
        const id = "put" in entry ? entry.put.id : "del" in entry ? entry.del : null;
        if (id === null) continue;
        result.putAt.set(id, doc.history.bytes);
        result.logged.add(id);
      }
      result.committedBytes = tx.end;
    }
  } catch (error) {
    problem = reasonOf(error);
  } finally {
    applier.finish();
  }
  if (problem) {
    result.problem = problem;
    idsIn(bytes.subarray(result.committedBytes), mentioned);
    result.lostRevs = { from: doc.rev + 1, to: Math.max(result.highestRev, mark?.rev ?? 0) };
    return result;
  }
  if (bytes.length > 0 && result.committedBytes === bytes.length && bytes[bytes.length - 1] !== 10) {
    result.problem = `its last commit line (rev ${doc.rev}) lost its newline; the transaction checks and the mark shows it was acknowledged, so --repair keeps it`;
  }
  if (bytes.length > result.committedBytes)
    result.notes.push(`${bytes.length - result.committedBytes} bytes after the last commit (a writer that died mid-append; ignored)`);
  const shortfall = path === named ? markShortfall(mark, doc) : null;
  if (shortfall) {
    result.problem = shortfall;
    result.lostRevs = { from: doc.rev + 1, to: mark!.rev };
    // The ids a cut-off transaction was writing, as far as its bytes remain.
    idsIn(bytes.subarray(result.committedBytes), mentioned);
  }
  return result;
}

function salvageHistory(home: string, doc: JournalDoc, mentioned: Set<string>): HistorySalvage {
  const path = join(home, doc.history.file);
  const committedBytes = doc.history.bytes;
  const result: HistorySalvage = { path, exists: existsSync(path), problem: null, notes: [], lines: [], committedBytes, size: 0, badIds: new Set() };
  if (!result.exists) {
    if (committedBytes > 0) result.problem = `it is missing but the journal committed ${committedBytes} bytes`;
    return result;
  }
  const bytes = readFileSync(path);
  result.size = bytes.length;
  if (bytes.length < committedBytes) result.problem = `it is ${bytes.length} bytes long but the journal committed ${committedBytes}`;
  let position = 0;
  let lineNumber = 0;
  while (position < bytes.length) {
    const newline = bytes.indexOf(10, position);
    const end = newline === -1 ? bytes.length : newline;
    const line = bytes.subarray(position, end);
    lineNumber += 1;
    const committed = position < committedBytes;
    if (newline === -1) {
      // A torn last line: never committed unless the journal says it was.
      if (committed) idsIn(line, result.badIds);
      break;
    }
    try {
      result.lines.push({ entry: parseHistoryLine(path, line), offset: position, bytes: bytes.subarray(position, newline + 1) });
    } catch (error) {
      // Past the committed length nothing was promised: a dead writer's bytes, not damage.
      if (committed) {
        result.problem ??= `line ${lineNumber}: ${reasonOf(error)}`;
        idsIn(line, result.badIds);
      }
    }
    position = newline + 1;
  }
  if (bytes.length > committedBytes)
    result.notes.push(`${bytes.length - committedBytes} bytes past the committed length (a writer that died before its commit; ignored by commands)`);
  for (const id of result.badIds) mentioned.add(id);
  return result;
}

/** The cold queue's committed lines from its cursor on, each checked as the commands check it, in id order. */
function salvageQueue(home: string, doc: JournalDoc, mentioned: Set<string>): QueueSalvage {
  const queue = doc.queue;
  const path = join(home, queue.file);
  const result: QueueSalvage = { path, exists: existsSync(path), problem: null, notes: [], tasks: [] };
  if (!result.exists) {
    if (queue.bytes > queue.offset)
      result.problem = `it is missing but the journal committed ${queue.bytes} bytes (${queue.count - queue.skip.length} tasks waiting)`;
    return result;
  }
  const bytes = readFileSync(path);
  if (bytes.length < queue.bytes) result.problem = `it is ${bytes.length} bytes long but the journal committed ${queue.bytes}`;
  const skip = new Set(queue.skip);
  const end = Math.min(bytes.length, queue.bytes);
  let previous: string | null = null;
  for (let position = queue.offset; position < end; ) {
    const newline = bytes.indexOf(10, position);
    if (newline === -1 || newline >= end) {
      result.problem ??= "its committed bytes end inside a line";
      idsIn(bytes.subarray(position, end), mentioned);
      break;
    }
    const line = bytes.subarray(position, newline);
    try {
      const task = parseColdLine(path, line);
      if (previous !== null && compareIds(previous, task.id) >= 0)
        throw new JournalCorruptError(path, `task ${task.id} comes after task ${previous}, out of id order`);
      previous = task.id;
      if (!skip.has(task.id)) result.tasks.push(task);
    } catch (error) {
      result.problem ??= `at byte ${position}: ${reasonOf(error)}`;
      idsIn(line, mentioned);
    }
    position = newline + 1;
  }
  if (queue.bytes > 0) result.notes.push(`${result.tasks.length} tasks waiting`);
  if (bytes.length > queue.bytes)
    result.notes.push(`${bytes.length - queue.bytes} bytes past the committed length (a writer that died before its commit; ignored by commands)`);
  return result;
}

/** Reads everything readable in `home`, without taking the lock and without writing. */
export async function salvage(home: string): Promise<Salvage> {
  const mentioned = new Set<string>();
  // The mark first, as every reader does.
  const mark = salvageMark(home);
  const snapshot = await salvageSnapshot(home, mentioned);
  const log = salvageLog(home, snapshot, mark.mark, mentioned);
  const history = salvageHistory(home, snapshot.doc, mentioned);
  const queue = salvageQueue(home, snapshot.doc, mentioned);
  return { home, mark, snapshot, log, history, queue, mentioned };
}
