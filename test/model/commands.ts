// The operations of a model run: each one a fast-check command that does the same thing to every
// store, checks that they answered alike, then reads everything a user can see of each journal
// and checks that too, against the memory store (the reference, whose rules are core/'s) and a
// small model of what the run did (which ids exist, which queues are paused, each schedule's last
// slot), which no store computes. Tasks, leases and slots are picked by index into what the run
// knows at the time, so a command shrinks and still means something.
import fc from "fast-check";
import type { ScheduleState, Schedule } from "../../src/core/schedule.ts";
import { ON_TIME_MS } from "../../src/core/schedule.ts";
import type { NewTask, RetryPolicy, TaskRecord, WorkerRef } from "../../src/core/task.ts";
import { type ClaimFilter, compareIds, type TryOutcome } from "../../src/core/transitions.ts";
import type { TickHolder, TryVerdict } from "../../src/core/recovery.ts";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { LeaseLostError, TaskNotFoundError } from "../../src/errors.ts";
import type { TaskReport } from "../../src/journal/store.ts";
import { compareObservations, EXECUTORS, HOSTS, normalised, observe, same, TICK_MUTEX } from "./observe.ts";
import type { Subject } from "./subjects.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
/** An id no task has: asked about alongside the real ones. */
const MISSING = "999999";

export interface Model {
  /** Ms since T0: the `now` every operation is given. */
  clock: number;
  /** Every id handed out, in order. */
  ids: string[];
  /** The ids of the tasks there are (handed out, not removed). */
  existing: Set<string>;
  paused: Set<string>;
  schedules: Record<string, ScheduleState>;
  /** Labels of the slots handed out, in order. */
  slots: string[];
  /** Deep enqueues so far: each is over a thousand tasks, so a run makes few. */
  deep: number;
  /** How many tasks the run made: each gets its number as its context. */
  made: number;
}

export interface Real {
  /** The reference first. */
  subjects: Subject[];
  /** The commands run so far, each with the tasks and slots its picks resolved to: printed with a failure. */
  trace: string[];
}

/** Adds what a command's picks resolved to, to its line of the trace. */
function resolve(real: Real, text: string): void {
  real.trace[real.trace.length - 1] += text;
}

export function initialModel(): Model {
  return { clock: 0, ids: [], existing: new Set(), paused: new Set(), schedules: {}, slots: [], deep: 0, made: 0 };
}

const nowOf = (model: Model) => new Date(T0 + model.clock);
const pick = <T>(items: readonly T[], index: number): T | undefined => (items.length === 0 ? undefined : items[index % items.length]);

const WORKERS: readonly WorkerRef[] = [
  { pid: 1001, host: "here", startTime: 5, bootId: "b" },
  { pid: 2002, host: "there", startTime: 7, bootId: "c" },
];
const TIERS: RetryPolicy = { kind: "tiers", tiers: [{ retries: 2, intervalMs: 1_000 }] };
const ERROR = { message: "boom", stack: null, where: null };
const OUTCOMES = {
  succeed: { kind: "succeeded", message: "done", result: { ok: true } },
  // As the task's retry policy says: again after 1 s while it has tries left.
  fail: { kind: "failed", error: ERROR, message: "boom" },
  failIn5s: { kind: "failed", error: ERROR, message: "boom", retryAfterMs: 5_000 },
  failFinal: { kind: "failed", error: ERROR, message: "boom", unrecoverable: true },
  cancelled: { kind: "cancelled", message: "stopped" },
  paused: { kind: "paused", message: "between steps" },
} satisfies Record<string, TryOutcome>;
type OutcomeName = keyof typeof OUTCOMES;

const SCHEDULES: readonly Schedule[] = [
  { name: "minutely", cron: "* * * * *", timezone: "UTC", executor: "a", context: { every: "minute" }, catchUpMs: null },
  { name: "every5s", cron: "*/5 * * * * *", timezone: "UTC", executor: "b", context: { every: "5s" }, catchUpMs: 60_000 },
];

// ---- running an operation on every store ------------------------------------------------------

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Errors the contract names for these operations; any other is a failure of the run. */
function knownError(error: unknown): string | null {
  if (error instanceof LeaseLostError) return "LeaseLostError";
  if (error instanceof TaskNotFoundError) return "TaskNotFoundError";
  return null;
}

/**
 * Runs `op` on every store and checks they answered alike (as `view` shows an answer; errors by
 * their kind). Returns each store's answer, in the order of `real.subjects`; undefined for an error.
 */
async function onEach<T>(
  real: Real,
  op: (subject: Subject) => Promise<T>,
  view: (subject: Subject, value: T) => unknown = normalised,
): Promise<Array<T | undefined>> {
  const outcomes: Array<Outcome<T>> = [];
  for (const subject of real.subjects) {
    try {
      outcomes.push({ ok: true, value: await op(subject) });
    } catch (error) {
      if (knownError(error) === null) throw new Error(`${subject.name}: ${real.trace[real.trace.length - 1]} threw ${(error as Error).stack ?? String(error)}`);
      outcomes.push({ ok: false, error });
    }
  }
  const shown = real.subjects.map((subject, i) => {
    const outcome = outcomes[i]!;
    return outcome.ok ? { value: view(subject, outcome.value) } : { error: knownError(outcome.error) };
  });
  const [reference, ...others] = real.subjects;
  const what = real.trace[real.trace.length - 1];
  for (const [i, subject] of others.entries()) same(`${subject.name} vs ${reference!.name}: what ${what} returned`, shown[i + 1], shown[0]);
  return outcomes.map((outcome) => (outcome.ok ? outcome.value : undefined));
}

/** Reads every store after a command and compares the readings with the reference's, and the reference's with the model. */
async function checkAll(model: Model, real: Real): Promise<void> {
  const now = nowOf(model);
  const ids = [...model.ids, MISSING];
  const [reference, ...others] = real.subjects;
  const turn = real.trace.length;
  const expected = await observe(reference!, ids, now, turn);
  same("the tasks there are, as the model counts them", expected.all.map((t) => t.id).sort(), [...model.existing].sort());
  same("the paused queues, as the model has them", expected.exact.pausedQueues, [...model.paused].sort());
  same("the schedules' last slots, as the model has them", expected.exact.scheduleStates, model.schedules);
  const seen = [expected];
  for (const subject of others) {
    const actual = await observe(subject, ids, now, turn);
    compareObservations(subject, reference!, actual, expected);
    seen.push(actual);
  }
  real.subjects.forEach((subject, i) => {
    for (const task of seen[i]!.all) if (task.status === "running") subject.leases.set(task.id, task.lease!);
  });
}

/** The ids the reference has running now. */
async function runningIds(real: Real): Promise<string[]> {
  return (await real.subjects[0]!.store.list({ statuses: ["running"] })).map((t) => t.id);
}

/** Ids some lease ever held, that no lease holds now: writes with their last lease are a presumed-dead worker's. */
async function staleIds(real: Real): Promise<string[]> {
  const running = new Set(await runningIds(real));
  return [...real.subjects[0]!.leases.keys()].filter((id) => !running.has(id));
}

function leaseOf(subject: Subject, id: string): string {
  return subject.leases.get(id) ?? "no-such-lease";
}

/** Gives the slot each store reserved (or none) the next label. */
function labelSlots(model: Model, real: Real, slots: Array<string | null | undefined>): void {
  if (slots[0] === null || slots[0] === undefined) return;
  const label = `slot${model.slots.length + 1}`;
  model.slots.push(label);
  for (const [i, subject] of real.subjects.entries()) subject.slots.set(label, slots[i]!);
}

/** A slot answer compared between stores: whether a slot was reserved (each store names it at random). */
const slotView = (_subject: Subject, slot: string | null) => (slot === null ? null : "(a slot)");

const task = (id: string) => `#${id}`;

// ---- the commands -------------------------------------------------------------------------------

export type Cmd = fc.AsyncCommand<Model, Real>;

/** What a new task looks like, as generated: shrinks toward a plain task of executor a. */
export interface InputSpec {
  executor: number;
  serial: boolean;
  priority: number;
  key: string | null;
  replace: boolean;
  delayMs: number | null;
  after: number[];
  retries: boolean;
  timeoutMs: number | null;
  concurrency: number | null;
  pinnedHost: string | null;
}

function describeInput(spec: InputSpec): string {
  const parts: string[] = [EXECUTORS[spec.executor]!];
  if (spec.serial) parts.push("serial");
  if (spec.priority) parts.push(`priority=${spec.priority}`);
  if (spec.key !== null) parts.push(`key=${spec.key}${spec.replace ? "+replace" : ""}`);
  if (spec.delayMs !== null) parts.push(`runAt=+${spec.delayMs}ms`);
  if (spec.after.length > 0) parts.push(`after=[${spec.after.join(",")}]`);
  if (spec.retries) parts.push("retry=2x1s");
  if (spec.timeoutMs !== null) parts.push(`timeout=${spec.timeoutMs}ms`);
  if (spec.concurrency !== null) parts.push(`concurrency=${spec.concurrency}`);
  if (spec.pinnedHost !== null) parts.push(`on=${spec.pinnedHost}`);
  return parts.join(" ");
}

/**
 * A bulk enqueue whose later input replaces (`key` + `replace`) the task an earlier one made
 * returns, for the earlier input, that task as it ended up in the file journal and as that input
 * made it in the memory store and PostgreSQL (reported; no contract says which). Only its id is
 * compared there; what it ended up as is compared by every read after.
 */
function asReturned(task: TaskRecord, i: number, tasks: readonly TaskRecord[]): TaskRecord | { id: string } {
  return tasks.slice(i + 1).some((later) => later.id === task.id) ? { id: task.id } : task;
}

class Enqueue implements Cmd {
  readonly inputs: InputSpec[];
  readonly host: string | null;
  constructor(inputs: InputSpec[], host: string | null) {
    this.inputs = inputs;
    this.host = host;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const now = nowOf(model);
    const tasks: NewTask[] = this.inputs.map((spec) => ({
      executor: EXECUTORS[spec.executor]!,
      context: { n: ++model.made },
      serialKey: spec.serial ? "s" : null,
      retry: spec.retries ? TIERS : NO_RETRY,
      timeoutMs: spec.timeoutMs,
      runAt: spec.delayMs === null ? null : new Date(now.getTime() + spec.delayMs),
      priority: spec.priority,
      key: spec.key,
      replace: spec.replace,
      // The last index is an id that is no task: the enqueue is refused.
      after: spec.after.map((i) => [...model.ids, MISSING][i % (model.ids.length + 1)]!),
      concurrency: spec.concurrency,
      pinnedHost: spec.pinnedHost,
    }));
    resolve(real, tasks.some((t) => t.after!.length > 0) ? ` after ${tasks.map((t) => `[${t.after!.join(",")}]`).join(" ")}` : "");
    const workers = this.host === null ? null : { host: this.host, maxWorkers: 2, places: 1, scheduleWindowMs: 0, scheduleDue: false, deadSlots: [] };
    const results = await onEach(
      real,
      (s) => s.store.enqueue(tasks, now, workers),
      (s, r) => normalised(s, { ...r, tasks: r.tasks.map(asReturned), workerSlot: slotView(s, r.workerSlot) }),
    );
    const result = results[0];
    if (result === undefined) return;
    result.outcomes.forEach((outcome, i) => {
      if (outcome !== "created") return;
      model.ids.push(result.tasks[i]!.id);
      model.existing.add(result.tasks[i]!.id);
    });
    labelSlots(
      model,
      real,
      results.map((r) => r?.workerSlot),
    );
  }
  toString(): string {
    return `enqueue(${this.inputs.map(describeInput).join("; ")}${this.host === null ? "" : `, worker slot on ${this.host}`})`;
  }
}

/** A bulk enqueue past the file journal's hot limit (of `count` plain tasks): they wait in its cold queue. */
class DeepEnqueue implements Cmd {
  readonly count: number;
  readonly executor: number;
  constructor(count: number, executor: number) {
    this.count = count;
    this.executor = executor;
  }
  check = (model: Readonly<Model>) => model.deep < MAX_DEEP;
  async run(model: Model, real: Real): Promise<void> {
    model.deep += 1;
    const tasks: NewTask[] = Array.from({ length: this.count }, (_, i) => ({
      executor: EXECUTORS[(this.executor + i) % EXECUTORS.length]!,
      context: { deep: ++model.made },
      serialKey: null,
      retry: NO_RETRY,
      timeoutMs: null,
      runAt: null,
    }));
    const [result] = await onEach(real, (s) => s.store.enqueue(tasks, nowOf(model), null));
    for (const created of result!.tasks) {
      model.ids.push(created.id);
      model.existing.add(created.id);
    }
  }
  toString(): string {
    return `deepEnqueue(${this.count} plain tasks from executor ${EXECUTORS[this.executor]} on)`;
  }
}

/** A deep enqueue of `hotLimit` + 1 tasks, checked as every command is: to start a sequence with. */
export function deepEnqueue(hotLimit: number): Cmd {
  return new Checked(new DeepEnqueue(hotLimit + 1, 0));
}

/** Deep enqueues in a sequence, at most: each makes more tasks than the file journal keeps hot. */
const MAX_DEEP = 3;

type FilterSpec = { kind: "none" } | { kind: "executors"; executors: number[] } | { kind: "exclude"; picks: number[] } | { kind: "maxTimeout" };

/** A worker's exchange: ends tries (by the lease each store gave), gives back unstarted ones, claims. */
class Exchange implements Cmd {
  readonly worker: number;
  readonly ends: Array<{ pick: number; outcome: OutcomeName }>;
  readonly giveBack: number[];
  readonly claim: number;
  readonly filter: FilterSpec;
  constructor(worker: number, ends: Array<{ pick: number; outcome: OutcomeName }>, giveBack: number[], claim: number, filter: FilterSpec) {
    this.worker = worker;
    this.ends = ends;
    this.giveBack = giveBack;
    this.claim = claim;
    this.filter = filter;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const running = await runningIds(real);
    // A worker ends each try once (PostgreSQL fails on a row put twice in one statement).
    const ends = this.ends.flatMap(({ pick: i, outcome }, at) => {
      const id = pick(running, i);
      return id === undefined || this.ends.slice(0, at).some((earlier) => pick(running, earlier.pick) === id) ? [] : [{ id, outcome }];
    });
    // A worker gives back only tries it never started, so never one it ends in the same exchange
    // (given that, the file journal queued the task again, and PostgreSQL failed on the row twice).
    const giveBack = this.giveBack.flatMap((i) => pick(running, i) ?? []).filter((id) => !ends.some((end) => end.id === id));
    const filter: ClaimFilter | undefined =
      this.filter.kind === "none"
        ? undefined
        : this.filter.kind === "executors"
          ? { executors: this.filter.executors.map((i) => EXECUTORS[i]!) }
          : this.filter.kind === "exclude"
            ? { excludeIds: this.filter.picks.flatMap((i) => pick(model.ids, i) ?? []) }
            : { maxTimeoutMs: 10_000 };
    resolve(
      real,
      ` → ends [${ends.map((e) => `${task(e.id)} ${e.outcome}`).join(", ")}] giveBack [${giveBack.map(task).join(", ")}]${filter ? ` filter ${JSON.stringify(filter)}` : ""}`,
    );
    await onEach(real, (s) =>
      s.store.exchange(WORKERS[this.worker]!, nowOf(model), {
        ends: ends.map((e) => ({ id: e.id, lease: leaseOf(s, e.id), outcome: OUTCOMES[e.outcome] })),
        giveBack: giveBack.map((id) => ({ id, lease: leaseOf(s, id) })),
        claim: this.claim,
        filter,
      }),
    );
  }
  toString(): string {
    const ends = this.ends.map((e) => `${e.outcome}(running[${e.pick}])`);
    return `exchange(worker on ${WORKERS[this.worker]!.host}, ends [${ends.join(", ")}], giveBack [${this.giveBack.map((i) => `running[${i}]`).join(", ")}], claim ${this.claim}, filter ${this.filter.kind})`;
  }
}

/** One try ended by `settle` or `forceEnd`, under the lease it has, or (stale) one it no longer has. */
class Settle implements Cmd {
  readonly pickIndex: number;
  readonly outcome: OutcomeName;
  readonly via: "settle" | "forceEnd";
  readonly stale: boolean;
  constructor(pickIndex: number, outcome: OutcomeName, via: "settle" | "forceEnd", stale: boolean) {
    this.pickIndex = pickIndex;
    this.outcome = outcome;
    this.via = via;
    this.stale = stale;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = pick(this.stale ? await staleIds(real) : await runningIds(real), this.pickIndex);
    resolve(real, id === undefined ? " → no such task" : ` → ${task(id)}`);
    if (id === undefined) return;
    const outcome = OUTCOMES[this.outcome];
    await onEach(real, (s) =>
      this.via === "settle" ? s.store.settle(id, leaseOf(s, id), outcome, nowOf(model)) : s.store.forceEnd(id, leaseOf(s, id), outcome, nowOf(model)),
    );
  }
  toString(): string {
    return `${this.via}(${this.stale ? "stale" : "running"}[${this.pickIndex}], ${this.outcome})`;
  }
}

export interface ReportSpec {
  progress: number | null;
  message: string | null | undefined;
  attributes: Record<string, unknown> | null;
  state: Record<string, unknown> | null;
  step: boolean;
}

class Report implements Cmd {
  readonly pickIndex: number;
  readonly spec: ReportSpec;
  readonly stale: boolean;
  constructor(pickIndex: number, spec: ReportSpec, stale: boolean) {
    this.pickIndex = pickIndex;
    this.spec = spec;
    this.stale = stale;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const id = pick(this.stale ? await staleIds(real) : await runningIds(real), this.pickIndex);
    resolve(real, id === undefined ? " → no such task" : ` → ${task(id)}`);
    if (id === undefined) return;
    const report: TaskReport = {
      ...(this.spec.progress === null ? {} : { progress: this.spec.progress }),
      ...(this.spec.message === undefined ? {} : { message: this.spec.message }),
      ...(this.spec.attributes === null ? {} : { attributes: this.spec.attributes }),
      ...(this.spec.state === null ? {} : { state: this.spec.state }),
      ...(this.spec.step ? { step: { index: 1, name: "second", count: 3 } } : {}),
    };
    await onEach(real, (s) => s.store.report(id, leaseOf(s, id), report, nowOf(model)));
  }
  toString(): string {
    return `report(${this.stale ? "stale" : "running"}[${this.pickIndex}], ${JSON.stringify(this.spec)})`;
  }
}

/** cancel, retry or remove of tasks picked among every id handed out (and one never handed out). */
class Control implements Cmd {
  readonly action: "cancel" | "cancelMany" | "retry" | "retryMany" | "remove";
  readonly picks: number[];
  constructor(action: "cancel" | "cancelMany" | "retry" | "retryMany" | "remove", picks: number[]) {
    this.action = action;
    this.picks = picks;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const ids = this.picks.map((i) => [...model.ids, MISSING][i % (model.ids.length + 1)]!);
    const now = nowOf(model);
    resolve(real, ` → [${ids.map(task).join(", ")}]`);
    if (this.action === "remove") {
      const [result] = await onEach(real, (s) => s.store.remove(ids, now));
      for (const removed of result!.removed) model.existing.delete(removed.id);
      return;
    }
    const action = this.action;
    await onEach(real, (s): Promise<unknown> => {
      if (action === "cancel") return s.store.cancel(ids[0]!, now);
      if (action === "cancelMany") return s.store.cancelMany(ids, now);
      if (action === "retry") return s.store.retry(ids[0]!, now);
      return s.store.retryMany(ids, now);
    });
  }
  toString(): string {
    return `${this.action}(${this.picks.join(", ")})`;
  }
}

/** Bulk cancel of every queued task (`bgtask cancel` of a whole queue): empties a deep queue. */
class CancelQueued implements Cmd {
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const ids = (await real.subjects[0]!.store.list({ statuses: ["queued"] })).map((t) => t.id);
    await onEach(real, (s) => s.store.cancelMany(ids, nowOf(model)));
  }
  toString(): string {
    return "cancelEveryQueued()";
  }
}

/** History retention: final tasks that finished before a time (all, with null) are deleted. */
class RemoveFinished implements Cmd {
  readonly agoMs: number | null;
  readonly onlyIfOldest: boolean;
  constructor(agoMs: number | null, onlyIfOldest: boolean) {
    this.agoMs = agoMs;
    this.onlyIfOldest = onlyIfOldest;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const now = nowOf(model);
    const olderThan = this.agoMs === null ? null : new Date(now.getTime() - this.agoMs);
    const options = this.onlyIfOldest && olderThan !== null ? { onlyIfOldestBefore: olderThan } : {};
    // In which order the ids come is nobody's contract (PostgreSQL's delete returns them as it finds them).
    const [removed] = await onEach(real, async (s) => (await s.store.removeFinished(olderThan, now, options)).sort(compareIds));
    for (const id of removed!) model.existing.delete(id);
  }
  toString(): string {
    return `removeFinished(${this.agoMs === null ? "all" : `older than ${this.agoMs}ms`}${this.onlyIfOldest ? ", only if the oldest is" : ""})`;
  }
}

class Pause implements Cmd {
  readonly executors: number[];
  readonly paused: boolean;
  constructor(executors: number[], paused: boolean) {
    this.executors = executors;
    this.paused = paused;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const names = this.executors.map((i) => EXECUTORS[i]!);
    for (const name of names) this.paused ? model.paused.add(name) : model.paused.delete(name);
    const [after] = await onEach(real, (s) => s.store.pauseQueues(names, this.paused));
    same(`what ${this.toString()} returned, as the model has it`, after, [...model.paused].sort());
  }
  toString(): string {
    return `${this.paused ? "pause" : "resume"}(${this.executors.map((i) => EXECUTORS[i]).join(", ")})`;
  }
}

class FireSchedules implements Cmd {
  readonly which: number[];
  constructor(which: number[]) {
    this.which = which;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const schedules = [...new Set(this.which)].map((i) => SCHEDULES[i]!);
    const firings = schedules.map((schedule) => ({
      schedule,
      task: { executor: schedule.executor, context: schedule.context, serialKey: null, retry: NO_RETRY, timeoutMs: null },
    }));
    const [created] = await onEach(real, (s) => s.store.fireSchedules({ firings, onTimeMs: ON_TIME_MS }, nowOf(model)));
    for (const fired of created!) {
      model.ids.push(fired.id);
      model.existing.add(fired.id);
      model.schedules[fired.schedule!.name] = { slot: fired.schedule!.slot, taskId: fired.id };
    }
  }
  toString(): string {
    return `fireSchedules(${[...new Set(this.which)].map((i) => SCHEDULES[i]!.name).join(", ")})`;
  }
}

class Advance implements Cmd {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
  check = () => true;
  async run(model: Model): Promise<void> {
    model.clock += this.ms;
  }
  toString(): string {
    return `advance(${this.ms}ms)`;
  }
}

/** A recovery pass: verdicts on running tries (lost, given back, or overdue), dead slots freed, scheduled tasks due queued. */
class Recover implements Cmd {
  readonly verdicts: Array<{ pick: number; kind: "lost" | "lostUnstarted" | "overdue" }>;
  readonly deadSlots: number[];
  constructor(verdicts: Array<{ pick: number; kind: "lost" | "lostUnstarted" | "overdue" }>, deadSlots: number[]) {
    this.verdicts = verdicts;
    this.deadSlots = deadSlots;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const running = await runningIds(real);
    // One verdict per try, as a recovery pass judges each once (PostgreSQL fails on a row put twice in one statement).
    const judged = this.verdicts.flatMap(({ pick: i, kind }, at) => {
      const id = pick(running, i);
      return id === undefined || this.verdicts.slice(0, at).some((earlier) => pick(running, earlier.pick) === id) ? [] : [{ id, kind }];
    });
    const dead = this.deadSlots.flatMap((i) => pick(model.slots, i) ?? []);
    resolve(real, ` → [${judged.map((j) => `${task(j.id)} ${j.kind}`).join(", ")}] dead [${dead.join(", ")}]`);
    const verdictOf = (kind: string): TryVerdict["verdict"] =>
      kind === "overdue"
        ? { kind: "overdue", outcome: OUTCOMES.cancelled }
        : { kind: "lost", reason: "its worker died", giveBack: kind === "lostUnstarted", dead: true };
    await onEach(real, (s) =>
      s.store.recover(nowOf(model), {
        verdicts: judged.map((j) => ({ id: j.id, lease: leaseOf(s, j.id), verdict: verdictOf(j.kind) })),
        deadSlots: dead.map((label) => s.slots.get(label)!),
      }),
    );
  }
  toString(): string {
    return `recover(verdicts [${this.verdicts.map((v) => `${v.kind}(running[${v.pick}])`).join(", ")}], deadSlots [${this.deadSlots.join(", ")}])`;
  }
}

/** The file journal folds its log into journal.json (the others keep nothing to fold). */
class Compact implements Cmd {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    for (const subject of real.subjects) await subject.compact();
  }
  toString(): string {
    return "compact()";
  }
}

/** Every store closed and opened again on its journal: what the next command sees. */
class Reopen implements Cmd {
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    for (const subject of real.subjects) await subject.reopen();
  }
  toString(): string {
    return "reopen()";
  }
}

/** A slot name no store handed out: a worker may register one it made up. */
const UNRESERVED = "unreserved";

/** The worker-slot operations: reserve (as a worker about to exit hands its slot on), register, retire, release. */
class Slots implements Cmd {
  readonly action: "reserve" | "register" | "retire" | "release";
  readonly slotPick: number | null;
  readonly host: number;
  constructor(action: "reserve" | "register" | "retire" | "release", slotPick: number | null, host: number) {
    this.action = action;
    this.slotPick = slotPick;
    this.host = host;
  }
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const now = nowOf(model);
    // null: a slot no store handed out (a worker registering one it made up).
    const label = this.slotPick === null ? null : (pick(model.slots, this.slotPick) ?? null);
    const nameIn = (s: Subject) => (label === null ? UNRESERVED : s.slots.get(label)!);
    resolve(real, ` → ${label ?? UNRESERVED}`);
    switch (this.action) {
      case "reserve": {
        const request = { host: HOSTS[this.host]!, maxWorkers: 2, places: 1, scheduleWindowMs: 0, scheduleDue: false, deadSlots: [] };
        const slots = await onEach(real, (s) => s.store.reserveWorker(now, request, label === null ? undefined : nameIn(s)), slotView);
        labelSlots(model, real, slots);
        return;
      }
      case "register":
        await onEach(real, (s) => s.store.registerWorker(nameIn(s), WORKERS[this.host]!, now));
        if (label === null && !model.slots.includes(UNRESERVED)) {
          model.slots.push(UNRESERVED);
          for (const subject of real.subjects) subject.slots.set(UNRESERVED, UNRESERVED);
        }
        return;
      case "retire":
        await onEach(real, (s) => s.store.retireWorker(nameIn(s), now, 30_000));
        return;
      case "release":
        await onEach(real, (s) => s.store.releaseWorker(nameIn(s)));
        return;
    }
  }
  toString(): string {
    return `${this.action}Worker(${this.slotPick === null ? "unreserved" : `slots[${this.slotPick}]`}, ${HOSTS[this.host]})`;
  }
}

const HOLDERS: readonly TickHolder[] = WORKERS.map((process, i) => ({ process, since: `2026-01-01T00:00:0${i}.000Z`, expiresAt: "2026-01-01T01:00:00.000Z" }));

class Tick implements Cmd {
  readonly action: "acquire" | "release";
  readonly holder: number;
  readonly vacating: boolean;
  constructor(action: "acquire" | "release", holder: number, vacating: boolean) {
    this.action = action;
    this.holder = holder;
    this.vacating = vacating;
  }
  check = () => true;
  async run(_model: Model, real: Real): Promise<void> {
    const holder = HOLDERS[this.holder]!;
    const vacated = this.vacating ? HOLDERS[1 - this.holder]! : null;
    await onEach(
      real,
      (s): Promise<unknown> => (this.action === "acquire" ? s.store.acquireTick(TICK_MUTEX, holder, vacated) : s.store.releaseTick(TICK_MUTEX, holder)),
    );
  }
  toString(): string {
    return `${this.action}Tick(${HOSTS[this.holder]}${this.vacating ? ", vacating the other" : ""})`;
  }
}

/** Checks every store after each command: fast-check runs the command, then this. */
class Checked implements Cmd {
  readonly inner: Cmd;
  constructor(inner: Cmd) {
    this.inner = inner;
  }
  check = (model: Readonly<Model>) => this.inner.check(model);
  async run(model: Model, real: Real): Promise<void> {
    real.trace.push(this.inner.toString());
    try {
      await this.inner.run(model, real);
      await checkAll(model, real);
    } catch (error) {
      if (error instanceof Error) error.message += `\n--- the commands run, as resolved:\n${real.trace.map((line, i) => `${i + 1}. ${line}`).join("\n")}`;
      throw error;
    }
  }
  toString(): string {
    return this.inner.toString();
  }
}

// ---- generating them ----------------------------------------------------------------------------

const executorIndex = fc.nat(EXECUTORS.length - 1);
const picks = (max: number) => fc.array(fc.nat(40), { minLength: 1, maxLength: max });

const inputSpec: fc.Arbitrary<InputSpec> = fc.record({
  executor: executorIndex,
  serial: fc.boolean(),
  priority: fc.constantFrom(0, 5),
  key: fc.constantFrom(null, "k1", "k2"),
  replace: fc.boolean(),
  delayMs: fc.constantFrom(null, 0, 1_000, 60_000),
  after: fc.array(fc.nat(40), { maxLength: 2 }),
  retries: fc.boolean(),
  timeoutMs: fc.constantFrom(null, 30_000),
  concurrency: fc.constantFrom(null, 1),
  pinnedHost: fc.constantFrom(null, "here", "there"),
});
/** Mostly plain tasks: each extra is there one time in four, so a sequence mixes them. */
const plainMostly: fc.Arbitrary<InputSpec> = fc.oneof(
  { weight: 3, arbitrary: executorIndex.map((executor) => ({ ...PLAIN, executor })) },
  { weight: 2, arbitrary: inputSpec },
);
const PLAIN: InputSpec = {
  executor: 0,
  serial: false,
  priority: 0,
  key: null,
  replace: false,
  delayMs: null,
  after: [],
  retries: false,
  timeoutMs: null,
  concurrency: null,
  pinnedHost: null,
};
const outcomeName = fc.constantFrom<OutcomeName>("succeed", "fail", "failIn5s", "failFinal", "cancelled", "paused");

const reportSpec: fc.Arbitrary<ReportSpec> = fc.record({
  progress: fc.constantFrom(null, 0, 42, 100),
  message: fc.constantFrom(undefined, null, "halfway", "Cancel me not"),
  attributes: fc.constantFrom(null, { rows: 10 }, { rows: 20, table: "t" }),
  state: fc.constantFrom(null, { cursor: 3 }),
  step: fc.boolean(),
});

/**
 * Every command, weighted toward the ones that make and move tasks. `hotLimit` is the file
 * journal's: a deep enqueue makes more tasks than that.
 */
export function commandArbitraries(options: { hotLimit: number }): Array<fc.Arbitrary<Cmd>> {
  const weighted: Array<[number, fc.Arbitrary<Cmd>]> = [
    [
      8,
      fc
        .tuple(fc.array(plainMostly, { minLength: 1, maxLength: 4 }), fc.constantFrom(null, null, "here", "there"))
        .map(([inputs, host]) => new Enqueue(inputs, host)),
    ],
    [
      6,
      fc
        .tuple(
          fc.nat(1),
          fc.array(fc.record({ pick: fc.nat(9), outcome: outcomeName }), { maxLength: 2 }),
          fc.array(fc.nat(9), { maxLength: 1 }),
          fc.constantFrom(1, 0, 2, 3, 50),
          fc.oneof(
            { weight: 4, arbitrary: fc.constant<FilterSpec>({ kind: "none" }) },
            {
              weight: 1,
              arbitrary: fc.array(executorIndex, { minLength: 1, maxLength: 2 }).map((executors): FilterSpec => ({ kind: "executors", executors })),
            },
            { weight: 1, arbitrary: picks(2).map((p): FilterSpec => ({ kind: "exclude", picks: p })) },
            { weight: 1, arbitrary: fc.constant<FilterSpec>({ kind: "maxTimeout" }) },
          ),
        )
        .map(([worker, ends, giveBack, claim, filter]) => new Exchange(worker, ends, giveBack, claim, filter)),
    ],
    [
      5,
      fc
        .tuple(fc.nat(9), outcomeName, fc.constantFrom<"settle" | "forceEnd">("settle", "forceEnd"), fc.boolean())
        .map(([p, outcome, via, stale]) => new Settle(p, outcome, via, stale)),
    ],
    [3, fc.tuple(fc.nat(9), reportSpec, fc.boolean()).map(([p, spec, stale]) => new Report(p, spec, stale))],
    [
      4,
      fc
        .tuple(fc.constantFrom<Control["action"]>("cancel", "cancelMany", "retry", "retryMany", "remove"), picks(3))
        .map(([action, p]) => new Control(action, action === "cancel" || action === "retry" ? p.slice(0, 1) : p)),
    ],
    [2, fc.tuple(fc.constantFrom(null, 0, 1_000, 60_000), fc.boolean()).map(([ago, gate]) => new RemoveFinished(ago, gate))],
    [3, fc.tuple(fc.array(executorIndex, { minLength: 1, maxLength: 2 }), fc.boolean()).map(([executors, paused]) => new Pause(executors, paused))],
    [2, fc.array(fc.nat(SCHEDULES.length - 1), { minLength: 1, maxLength: 2 }).map((which) => new FireSchedules(which))],
    [4, fc.constantFrom(1, 500, 1_000, 5_000, 61_000, 600_000).map((ms) => new Advance(ms))],
    [
      2,
      fc
        .tuple(
          fc.array(fc.record({ pick: fc.nat(9), kind: fc.constantFrom<"lost" | "lostUnstarted" | "overdue">("lost", "lostUnstarted", "overdue") }), {
            maxLength: 2,
          }),
          fc.array(fc.nat(9), { maxLength: 1 }),
        )
        .map(([verdicts, dead]) => new Recover(verdicts, dead)),
    ],
    [3, fc.constant(new Compact())],
    [2, fc.constant(new Reopen())],
    [
      2,
      fc
        .tuple(fc.constantFrom<Slots["action"]>("reserve", "register", "retire", "release"), fc.option(fc.nat(9), { freq: 4 }), fc.nat(HOSTS.length - 1))
        .map(([action, slot, host]) => new Slots(action, slot, host)),
    ],
    [
      1,
      fc
        .tuple(fc.constantFrom<"acquire" | "release">("acquire", "release"), fc.nat(1), fc.boolean())
        .map(([action, holder, vacating]) => new Tick(action, holder, vacating)),
    ],
    [1, fc.tuple(fc.nat(20), executorIndex).map(([extra, executor]) => new DeepEnqueue(options.hotLimit + 1 + extra, executor))],
    [1, fc.constant(new CancelQueued())],
  ];
  return [fc.oneof(...weighted.map(([weight, arbitrary]) => ({ weight, arbitrary: arbitrary.map((cmd): Cmd => new Checked(cmd)) })))];
}
