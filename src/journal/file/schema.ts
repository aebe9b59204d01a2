// The on-disk format of the file journal, versioned and checked on every read. A file that
// fails these checks is reported, never "repaired" by rewriting it.
import * as v from "valibot";
import type { TaskRecord } from "../../core/task.ts";
import { isNumber, isObject, isTask, isWorkerRef, TASK_ID, taskSchema, workerRef } from "../record.ts";
import type { WorkerSlot } from "../../core/workers.ts";
import type { ScheduleState } from "../../core/schedule.ts";
import { type Counters, isCounters } from "../../core/counters.ts";

export type { WorkerSlot };

export const JOURNAL_FORMAT = "bgtask-journal";
/** 2 added the cold queue (`queue`); a version 1 journal is read as one whose queue is empty. */
export const JOURNAL_VERSION = 2;

/**
 * The cold queue: plain queued tasks (no delay, no serial key) appended in id order to a JSON-lines
 * segment instead of the active set, so a deep queue costs nothing until its tasks are claimed.
 * Lines before `offset` were taken (claimed, or passed over); the first `bytes` bytes are committed.
 */
export interface ColdQueue {
  file: string;
  bytes: number;
  /** Start of the first line not yet taken: the claim cursor. */
  offset: number;
  /** Lines from `offset` to `bytes`. */
  count: number;
  /** Ids at or after the cursor that left the queue while cold (cancelled, removed): passed over by the cursor. */
  skip: string[];
  /**
   * The `count` lines by executor, so counting a deep queue reads no segment. Absent in a queue an
   * earlier bgtask wrote; its next segment has it.
   */
  executors?: Record<string, number>;
}

export function emptyQueue(file = "queue.1.jsonl"): ColdQueue {
  return { file, bytes: 0, offset: 0, count: 0, skip: [], executors: {} };
}

/**
 * What the journal holds beside its tasks and the snapshot's own bookkeeping. This is the one
 * definition: journal.json's head, the log's meta entries, a compaction, an upgrade and a repair
 * all carry it whole (stateOf, applyState, STATE_CHECKS), so a field added here reaches every
 * writer and reader of the file journal; the compiler refuses a field left out of STATE_CHECKS.
 */
export interface JournalState {
  nextId: number;
  /** Final tasks live in an append-only JSON-lines file; only its first `bytes` bytes are committed. */
  history: { file: string; bytes: number };
  queue: ColdQueue;
  workers: WorkerSlot[];
  /** The last slot fired per schedule name; absent in journals written before schedules (none fired). */
  schedules?: Record<string, ScheduleState>;
  /** Executors whose queue `bgtask pause` stopped; absent in journals from before it (none paused). */
  pausedQueues?: string[];
}

/**
 * The active set (every task that is not final, except the cold queue's), the worker registry and
 * the rest of the journal's state. journal.json holds it as of its last compaction; the log file it
 * names holds every committed change since.
 */
export interface JournalDoc extends JournalState {
  format: typeof JOURNAL_FORMAT;
  /** As read: only a journal at JOURNAL_VERSION takes cold tasks (an older bgtask would not see them). */
  version: number;
  /** Number of committed writes: one per transaction. */
  rev: number;
  /** The write-ahead log that continues this snapshot. */
  log: string;
  tasks: TaskRecord[];
  /**
   * The journal's counters (core/counters.ts) as of this snapshot; the log's `count` entries add to
   * them. Absent in journals written before them (nothing counted).
   */
  counters?: Counters;
}

/** The snapshot's own fields beside the state's: the compiler refuses a field of JournalDoc left out here, which a compaction would drop. */
const HEAD_FIELDS: { [K in Exclude<keyof JournalDoc, keyof JournalState | "tasks">]-?: true } = {
  format: true,
  version: true,
  rev: true,
  log: true,
  counters: true,
};

/** journal.json's head: everything in `doc` but its tasks, the state whole (stateOf). */
export function headOf(doc: JournalDoc): Omit<JournalDoc, "tasks"> {
  const head: Record<string, unknown> = {};
  for (const key of Object.keys(HEAD_FIELDS) as Array<keyof typeof HEAD_FIELDS>) if (doc[key] !== undefined) head[key] = doc[key];
  return { ...(head as Pick<JournalDoc, keyof typeof HEAD_FIELDS>), ...stateOf(doc) };
}

export function emptyDoc(): JournalDoc {
  return {
    format: JOURNAL_FORMAT,
    version: JOURNAL_VERSION,
    rev: 0,
    log: "journal.1.log",
    nextId: 1,
    history: { file: "history.jsonl", bytes: 0 },
    queue: emptyQueue(),
    tasks: [],
    workers: [],
    counters: {},
  };
}

const LOG_FILE = /^journal\.\d+\.log$/;
const HISTORY_FILE = /^history[\w.-]*\.jsonl$/;
export const QUEUE_FILE = /^queue\.(\d+)\.jsonl$/;

export function isScheduleStates(x: unknown): boolean {
  return isObject(x) && Object.values(x).every((state) => isObject(state) && typeof state.slot === "string" && typeof state.taskId === "string");
}

function isWorkerSlot(x: unknown): boolean {
  return (
    isObject(x) &&
    typeof x.slot === "string" &&
    (x.host === undefined || typeof x.host === "string") &&
    typeof x.reservedAt === "string" &&
    (x.process === null || isWorkerRef(x.process))
  );
}

export function isColdQueue(x: unknown): boolean {
  return (
    isObject(x) &&
    typeof x.file === "string" &&
    QUEUE_FILE.test(x.file) &&
    isNumber(x.bytes) &&
    isNumber(x.offset) &&
    isNumber(x.count) &&
    (x.offset as number) <= (x.bytes as number) &&
    Array.isArray(x.skip) &&
    x.skip.every((id) => typeof id === "string" && TASK_ID.test(id)) &&
    (x.executors === undefined || (isObject(x.executors) && Object.values(x.executors).every(isNumber)))
  );
}

export function isPausedQueues(x: unknown): boolean {
  return Array.isArray(x) && x.every((name) => typeof name === "string");
}

interface StateField<T> {
  /** The field in words, for a message saying it is malformed. */
  name: string;
  check: (x: unknown) => boolean;
  /** What an absent field means (written before the field existed); a field without it must be there. */
  absent?: () => T;
}

/** Every field of the journal's state, in the order journal.json's head writes them. */
const STATE_FIELDS: { [K in keyof JournalState]-?: StateField<NonNullable<JournalState[K]>> } = {
  nextId: { name: "next id", check: isNumber },
  history: { name: "history position", check: (x) => isObject(x) && typeof x.file === "string" && HISTORY_FILE.test(x.file) && isNumber(x.bytes) },
  // A version 1 journal has no cold queue.
  queue: { name: "queue position", check: isColdQueue, absent: () => emptyQueue() },
  workers: { name: "worker registry", check: (x) => Array.isArray(x) && x.every(isWorkerSlot) },
  schedules: { name: "schedule state", check: isScheduleStates, absent: () => ({}) },
  pausedQueues: { name: "list of paused queues", check: isPausedQueues, absent: () => [] },
};
const STATE_KEYS = Object.keys(STATE_FIELDS) as Array<keyof JournalState>;

/** The journal's state in `doc`, every field of it: what a snapshot's head and a log's meta entry write. */
export function stateOf(doc: JournalState): JournalState {
  const state: Record<string, unknown> = {};
  for (const key of STATE_KEYS) if (doc[key] !== undefined) state[key] = doc[key];
  return state as unknown as JournalState;
}

/** Puts `state` (as checked by stateProblem) into `doc`, each absent field as its default. */
export function applyState(doc: JournalState, state: Partial<JournalState>): void {
  const target = doc as unknown as Record<string, unknown>;
  for (const key of STATE_KEYS) target[key] = state[key] ?? STATE_FIELDS[key].absent?.();
}

/** The first state field of `x` that is missing or malformed, in words, or null when every one checks. */
export function stateProblem(x: unknown): string | null {
  if (!isObject(x)) return "journal state";
  for (const key of STATE_KEYS) {
    const field: StateField<unknown> = STATE_FIELDS[key];
    if (x[key] === undefined ? field.absent === undefined : !field.check(x[key])) return field.name;
  }
  return null;
}

function isDoc(x: unknown): boolean {
  return (
    isObject(x) &&
    x.format === JOURNAL_FORMAT &&
    isNumber(x.version) &&
    isNumber(x.rev) &&
    typeof x.log === "string" &&
    LOG_FILE.test(x.log) &&
    (x.version === 1) === (x.queue === undefined) &&
    stateProblem(x) === null &&
    Array.isArray(x.tasks) &&
    x.tasks.every(isTask) &&
    (x.counters === undefined || isCounters(x.counters))
  );
}

const queueSchema = v.pipe(
  v.object({
    file: v.pipe(v.string(), v.regex(QUEUE_FILE)),
    bytes: v.number(),
    offset: v.number(),
    count: v.number(),
    skip: v.array(v.pipe(v.string(), v.regex(TASK_ID))),
    executors: v.optional(v.record(v.string(), v.number())),
  }),
  v.check((q) => q.offset <= q.bytes, "the queue's cursor is past its committed bytes"),
);

const stateSchema: { [K in keyof JournalState]-?: v.GenericSchema } = {
  nextId: v.number(),
  history: v.object({ file: v.pipe(v.string(), v.regex(HISTORY_FILE)), bytes: v.number() }),
  queue: v.optional(queueSchema),
  workers: v.array(v.object({ slot: v.string(), host: v.optional(v.string()), reservedAt: v.string(), process: v.nullable(workerRef) })),
  schedules: v.optional(v.record(v.string(), v.object({ slot: v.string(), taskId: v.string() }))),
  pausedQueues: v.optional(v.array(v.string())),
};

const docSchema = v.object({
  format: v.literal(JOURNAL_FORMAT),
  version: v.number(),
  rev: v.number(),
  log: v.pipe(v.string(), v.regex(LOG_FILE)),
  ...stateSchema,
  tasks: v.array(taskSchema),
});

/** Returns the problem in words, or null when `value` is a journal this version can use. */
export function checkDoc(value: unknown): string | null {
  if (typeof value === "object" && value !== null && "version" in value && typeof value.version === "number") {
    if (value.version > JOURNAL_VERSION) {
      return `it was written by a newer bgtask (format version ${value.version}, this one reads ${JOURNAL_VERSION})`;
    }
  }
  if (isDoc(value)) return null;
  const result = v.safeParse(docSchema, value);
  if (result.success) {
    const { version, queue } = result.output;
    return version === 1 ? (queue === undefined ? null : "a version 1 journal has no queue") : queue === undefined ? "it has no queue" : null;
  }
  const issue = result.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
  return `unexpected content${path ? ` at ${path}` : ""}: ${issue.message}`;
}

/** A checked document as this version uses it: each state field it lacks (a version 1 journal's queue) at its default. */
export function upgraded(doc: JournalDoc): JournalDoc {
  applyState(doc, stateOf(doc));
  return doc;
}

export { checkTask } from "../record.ts";
