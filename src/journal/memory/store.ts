// The JournalStore contract held in memory, for tests and for the client's unit tests: one
// process, nothing durable. Every operation runs to its end before another starts (one turn of
// the event loop), which is its transaction. It holds no rules of its own: claim order, the
// transitions, recovery verdicts, slot demand and list order all come from core/.
import { compareActiveOnPage, compareNewestFinished, listed, matchesPage } from "../../core/list-order.ts";
import { applyVerdict, isSameHolder, type JournalClock, LOCAL_CLOCK, type TickHolder } from "../../core/recovery.ts";
import { maxTriesOf } from "../../core/retry-policy.ts";
import { firedStates, firedTasks, type ScheduleState } from "../../core/schedule.ts";
import { createTask, finishedTime, isFinal, type NewTask, type TaskRecord, type WorkerRef } from "../../core/task.ts";
import {
  afterDependencies,
  cancel,
  cancelEffect,
  canGiveBack,
  claim,
  claimFilterOn,
  type Ended,
  findKeyed,
  giveBack,
  isHeldBy,
  mayClaimAhead,
  pickFirst,
  type KeyOutcome,
  promote,
  releaseDependents,
  replaceKeyed,
  retryIn,
  type RetryResult,
  settle,
  type TryOutcome,
} from "../../core/transitions.ts";
import { hostDemand, isDemand, isOnHost, isReservationExpired, retirement, wantsWorker, type WorkerSlot } from "../../core/workers.ts";
import {
  type Activity,
  type ActivityWindow,
  activityOf,
  addCount,
  endedTask,
  finishedPerMinute,
  type ExecutorCounts,
  noteQueued,
  type OldestQueued,
} from "../../core/stats.ts";
import { addCounters, type Counters, type Tally, tallyChange, tallyRecovery } from "../../core/counters.ts";
import type { TaskEvent } from "../../core/events.ts";
import { BadCursorError, LeaseLostError, TaskNotFoundError } from "../../errors.ts";
import { uniqueName } from "../../host/unique-name.ts";
import { MemoryTaskOutput } from "./output.ts";
import type { TaskOutput } from "../task-output.ts";
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
  TryControl,
} from "../store.ts";

/** Records cross the seam as copies, as they would from a database: nobody edits the store's own. */
const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStore implements JournalStore {
  readonly location = "memory";
  /** Every task, final ones included, in id order (ids only grow). */
  private readonly tasks = new Map<string, TaskRecord>();
  private nextId = 1;
  private slots: WorkerSlot[] = [];
  private readonly ticks = new Map<string, TickHolder>();
  private readonly output = new MemoryTaskOutput();
  private schedules: Record<string, ScheduleState> = {};
  private paused = new Set<string>();
  private readonly listeners = new Set<ChangeListener>();
  /** Every count and every event, oldest first: an event's cursor is its place there plus one. */
  private readonly tally: Tally = { counts: {}, events: [] };

  /** Runs one operation as a transaction: the ids it reports changed are announced after it. */
  private run<T>(operation: (changed: Set<string>) => T): Promise<T> {
    const changed = new Set<string>();
    try {
      return Promise.resolve(operation(changed));
    } catch (error) {
      return Promise.reject(error);
    } finally {
      if (changed.size > 0) {
        const ids = [...changed];
        for (const listener of this.listeners) setImmediate(() => this.listeners.has(listener) && listener(ids));
      }
    }
  }

  /** Writes `task`, counting its change at `now` (null: an import, whose counts come with it). */
  private put(changed: Set<string>, task: TaskRecord, now: Date | null): TaskRecord {
    if (now !== null) tallyChange(this.tally, this.tasks.get(task.id) ?? null, task, now);
    this.tasks.set(task.id, task);
    changed.add(task.id);
    return copy(task);
  }

  private active(): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => !isFinal(t.status));
  }

  /** Tells the tasks waiting for those this operation ended (the final ones it changed, and `removed`), in the same operation. */
  private release(changed: Set<string>, now: Date, removed: readonly string[] = []): void {
    const ended: Ended[] = removed.map((id) => ({ id, status: "removed" }));
    for (const id of changed) {
      const task = this.tasks.get(id);
      if (task && isFinal(task.status)) ended.push({ id, status: task.status });
    }
    if (ended.length === 0) return;
    for (const task of releaseDependents(this.active(), ended, now)) this.put(changed, task, now);
  }

  private held(id: string, lease: string): TaskRecord | null {
    const task = this.tasks.get(id);
    return task && isHeldBy(task, lease) ? task : null;
  }

  private applyRecovery(changed: Set<string>, now: Date, recovery: Recovery): RecoverResult {
    const result: RecoverResult = { recovered: [], forced: [], promoted: [] };
    // Found before the verdicts, as the file store finds them (see applyRecovery there).
    const scheduled = this.active().filter((t) => t.status === "scheduled");
    for (const { id, lease, verdict } of recovery.verdicts) {
      const task = this.held(id, lease);
      if (!task) continue;
      const after = applyVerdict(task, verdict, now);
      this.put(changed, after, now);
      if (verdict.kind !== "overdue") tallyRecovery(this.tally, after, now);
      (verdict.kind === "overdue" ? result.forced : result.recovered).push(id);
    }
    for (const task of scheduled) {
      const promoted = promote(task, now);
      if (promoted === task) continue;
      this.put(changed, promoted, now);
      result.promoted.push(task.id);
    }
    this.pruneSlots(now, recovery.deadSlots);
    return result;
  }

  private pruneSlots(now: Date, deadSlots: readonly string[]): void {
    const dead = new Set(deadSlots);
    this.slots = this.slots.filter((slot) => !isReservationExpired(slot, now) && !dead.has(slot.slot));
  }

  private reserveSlot(now: Date, request: SlotRequest): string | null {
    this.pruneSlots(now, request.deadSlots);
    const onHost = this.slots.filter((slot) => isOnHost(slot, request.host)).length;
    const work = this.active().filter((t) => isDemand(t, now, request.scheduleWindowMs, this.paused));
    if (!wantsWorker(onHost, this.slots.length, request.maxWorkers, request.places, hostDemand(work, request.host, request.scheduleDue ? 1 : 0))) return null;
    const slot = uniqueName();
    this.slots.push({ slot, host: request.host, reservedAt: now.toISOString(), process: null });
    return slot;
  }

  enqueue(tasks: readonly NewTask[], now: Date, workers: SlotRequest | null): Promise<EnqueueResult> {
    return this.run((changed) => {
      // Checked before anything changes: one missing id, nothing stored.
      for (const input of tasks) for (const id of input.after ?? []) if (!this.tasks.has(id)) throw new TaskNotFoundError(id);
      const stored: TaskRecord[] = [];
      const outcomes: KeyOutcome[] = [];
      for (const input of tasks) {
        const keyed = findKeyed(this.tasks.values(), input);
        if (keyed) {
          const { task, outcome } = replaceKeyed(keyed, copy(input), now);
          stored.push(task === keyed ? copy(task) : this.put(changed, task, now));
          outcomes.push(outcome);
          continue;
        }
        const created = createTask(String(this.nextId++), copy(input), now, maxTriesOf(input.retry));
        const dependencies = (input.after ?? []).map((id) => this.tasks.get(id)!);
        stored.push(this.put(changed, dependencies.length > 0 ? afterDependencies(created, dependencies, now) : created, now));
        outcomes.push("created");
      }
      return { tasks: stored, outcomes, workerSlot: workers === null ? null : this.reserveSlot(now, workers) };
    });
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.run((changed) => {
      const task = this.held(id, lease);
      if (!task) throw new LeaseLostError(id);
      const attributes = report.attributes ? { ...task.attributes, ...report.attributes } : task.attributes;
      this.put(changed, { ...task, ...copy(report), attributes, heartbeatAt: now.toISOString() }, now);
    });
  }

  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord> {
    return this.run((changed) => {
      const task = this.held(id, lease);
      if (!task) throw new LeaseLostError(id);
      const settled = this.put(changed, settle(task, copy(outcome), now), now);
      this.release(changed, now);
      return settled;
    });
  }

  exchange(worker: WorkerRef, now: Date, exchange: Exchange): Promise<ExchangeResult> {
    return this.run((changed) => {
      const settled = exchange.ends.map((end) => {
        const task = this.held(end.id, end.lease);
        return task ? this.put(changed, settle(task, copy(end.outcome), now), now) : null;
      });
      for (const { id, lease } of exchange.giveBack) {
        const task = this.held(id, lease);
        if (task && canGiveBack(task)) this.put(changed, giveBack(task, now), now);
      }
      const recovered = exchange.recovery ? this.applyRecovery(changed, now, exchange.recovery) : null;
      this.release(changed, now);
      if (settled.includes(null) || exchange.claim < 1) return { settled, next: [], recovered };
      const next: TaskRecord[] = [];
      for (const task of pickFirst(this.active(), now, exchange.claim, claimFilterOn(worker.host, exchange.filter), this.paused)) {
        if (!mayClaimAhead(next.length, task, exchange.start)) break;
        next.push(this.put(changed, claim(task, copy(worker), uniqueName(), now), now));
      }
      return { settled, next, recovered };
    });
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.run(() => {
      const others = this.slots.filter((s) => s.slot !== slot);
      const reservedAt = this.slots.find((s) => s.slot === slot)?.reservedAt ?? now.toISOString();
      this.slots = [...others, { slot, host: worker.host, reservedAt, process: copy(worker) }];
    });
  }

  retireWorker(slot: string, now: Date, scheduleWindowMs: number): Promise<RetireResult> {
    return this.run(() => {
      const result = retirement(this.active(), now, scheduleWindowMs, false, this.paused, this.slots.find((s) => s.slot === slot)?.host);
      if (result.retired) this.slots = this.slots.filter((s) => s.slot !== slot);
      return result;
    });
  }

  reserveWorker(now: Date, request: SlotRequest, releasing?: string): Promise<string | null> {
    return this.run(() => {
      this.slots = this.slots.filter((s) => s.slot !== releasing);
      return this.reserveSlot(now, request);
    });
  }

  releaseWorker(slot: string): Promise<void> {
    return this.run(() => void (this.slots = this.slots.filter((s) => s.slot !== slot)));
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.run(() => copy(this.tasks.get(id) ?? null));
  }

  list(filter: ListFilter): Promise<TaskRecord[]> {
    return this.run(() => {
      const wanted = filter.ids ? new Set(filter.ids) : null;
      const matching = [...this.tasks.values()].filter(
        (t) =>
          (!wanted || wanted.has(t.id)) &&
          (!filter.statuses || filter.statuses.includes(t.status)) &&
          (!filter.executor || t.executor === filter.executor) &&
          (filter.key === undefined || t.key === filter.key),
      );
      const finals = matching.filter((t) => isFinal(t.status)).sort(compareNewestFinished);
      return copy(
        listed(
          matching.filter((t) => !isFinal(t.status)),
          finals,
          filter.limit,
        ),
      );
    });
  }

  page(filter: PageFilter): Promise<TaskRecord[]> {
    const matching = [...this.tasks.values()].filter((t) => matchesPage(t, filter));
    const active = matching.filter((t) => !isFinal(t.status)).sort(compareActiveOnPage(filter.order));
    const finals = matching.filter((t) => isFinal(t.status)).sort(compareNewestFinished);
    return Promise.resolve(copy([...active, ...finals].slice(filter.offset, filter.offset + filter.limit)));
  }

  stats(now: Date, minutes: number): Promise<StoreStats> {
    const counts: ExecutorCounts = {};
    const oldestQueued: OldestQueued = {};
    const finished: number[] = [];
    for (const task of this.tasks.values()) {
      addCount(counts, task.executor, task.status);
      if (task.status === "queued") noteQueued(oldestQueued, task.executor, task.createdAt);
      if (isFinal(task.status)) finished.push(finishedTime(task));
    }
    return Promise.resolve({ counts, oldestQueued, finishedPerMinute: finishedPerMinute(finished, now.getTime(), minutes) });
  }

  activity(now: Date, window: ActivityWindow): Promise<Activity> {
    const finals = [...this.tasks.values()].filter((t) => isFinal(t.status));
    return Promise.resolve(activityOf(finals.map(endedTask), now.getTime(), window));
  }

  workerSlots(): Promise<WorkerSlot[]> {
    return Promise.resolve(copy(this.slots));
  }

  /** One machine: the journal's clock is this host's. */
  async clock(): Promise<JournalClock> {
    return LOCAL_CLOCK;
  }

  survey(host: string): Promise<Survey> {
    return this.run(() => copy({ running: this.active().filter((t) => t.status === "running"), slots: this.slots.filter((s) => isOnHost(s, host)) }));
  }

  tryControl(id: string, lease: string): Promise<TryControl> {
    return this.run(() => {
      const task = this.tasks.get(id);
      return { held: task !== undefined && isHeldBy(task, lease), cancelRequestedAt: task?.cancelRequestedAt ?? null };
    });
  }

  watchChanges(onChange: ChangeListener): { close(): void } {
    this.listeners.add(onChange);
    return { close: () => void this.listeners.delete(onChange) };
  }

  recover(now: Date, recovery: Recovery): Promise<RecoverResult> {
    return this.run((changed) => {
      const result = this.applyRecovery(changed, now, recovery);
      this.release(changed, now);
      return result;
    });
  }

  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord | null> {
    return this.run((changed) => {
      const task = this.held(id, lease);
      if (!task) return null;
      const ended = this.put(changed, settle(task, copy(outcome), now), now);
      this.release(changed, now);
      return ended;
    });
  }

  async cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null> {
    return (await this.cancelMany([id], now))[0]!;
  }

  cancelMany(ids: readonly string[], now: Date): Promise<Array<{ task: TaskRecord; effect: CancelEffect } | null>> {
    return this.run((changed) => {
      const results = ids.map((id) => {
        const task = this.tasks.get(id);
        if (!task) return null;
        const effect = cancelEffect(task);
        const next = cancel(task, now);
        return { task: next === task ? copy(task) : this.put(changed, next, now), effect };
      });
      this.release(changed, now);
      return results;
    });
  }

  async retry(id: string, now: Date): Promise<RetryResult | null> {
    return (await this.retryMany([id], now))[0]!;
  }

  retryMany(ids: readonly string[], now: Date): Promise<Array<RetryResult | null>> {
    return this.run((changed) =>
      ids.map((id) => {
        const task = this.tasks.get(id);
        if (!task) return null;
        const result = retryIn(task, this.tasks.values(), (queued) => this.put(changed, queued, now));
        return result.queued ? result : { ...result, task: copy(task), ...(result.heldBy ? { heldBy: copy(result.heldBy) } : {}) };
      }),
    );
  }

  remove(ids: readonly string[], now: Date): Promise<RemoveResult> {
    return this.run((changed) => {
      const unique = [...new Set(ids)];
      const missing = unique.filter((id) => !this.tasks.has(id));
      const running = unique.filter((id) => this.tasks.get(id)?.status === "running");
      if (missing.length > 0 || running.length > 0) return { removed: [], running, missing };
      const removed = unique.map((id) => copy(this.tasks.get(id)!));
      for (const id of unique) {
        this.tasks.delete(id);
        changed.add(id);
      }
      this.release(changed, now, unique);
      return { removed, running, missing };
    });
  }

  removeFinished(olderThan: Date | null, _now: Date, options: RemoveFinishedOptions = {}): Promise<string[]> {
    return this.run((changed) => {
      const finals = [...this.tasks.values()].filter((t) => isFinal(t.status));
      const { onlyIfOldestBefore, executor } = options;
      if (onlyIfOldestBefore && !finals.some((t) => finishedTime(t) < onlyIfOldestBefore.getTime())) return [];
      const gone = finals
        .filter((t) => (olderThan === null || finishedTime(t) < olderThan.getTime()) && (executor === undefined || t.executor === executor))
        .map((t) => t.id);
      for (const id of gone) {
        this.tasks.delete(id);
        changed.add(id);
      }
      return gone;
    });
  }

  fireSchedules(request: FireRequest, now: Date): Promise<TaskRecord[]> {
    return this.run((changed) => {
      const inputs = firedTasks(copy(request.firings), this.schedules, now, request.onTimeMs);
      const created = inputs.map((input) => this.put(changed, createTask(String(this.nextId++), input, now, maxTriesOf(input.retry)), now));
      this.schedules = firedStates(this.schedules, created);
      return created;
    });
  }

  scheduleStates(): Promise<Record<string, ScheduleState>> {
    return this.run(() => copy(this.schedules));
  }

  pauseQueues(executors: readonly string[], paused: boolean): Promise<string[]> {
    return this.run(() => {
      for (const name of executors) paused ? this.paused.add(name) : this.paused.delete(name);
      return [...this.paused].sort();
    });
  }

  events(since: string | null, limit: number): Promise<TaskEvent[]> {
    return this.run(() => {
      if (since !== null && !/^(0|[1-9]\d{0,15})$/.test(since)) throw new BadCursorError(since, this.location);
      const from = since === null ? 0 : Number(since);
      if (from > this.tally.events.length) throw new BadCursorError(since!, this.location);
      return this.tally.events.slice(from, from + limit).map((event, i) => ({ ...copy(event), cursor: String(from + i + 1) }));
    });
  }

  counters(): Promise<Counters> {
    return this.run(() => copy(this.tally.counts));
  }

  pausedQueues(): Promise<string[]> {
    return this.run(() => [...this.paused].sort());
  }

  importTasks(imported: JournalCopy): Promise<{ clashes: string[] }> {
    return this.run((changed) => {
      const clashes = imported.tasks.filter((t) => this.tasks.has(t.id)).map((t) => t.id);
      if (clashes.length > 0) return { clashes };
      for (const task of imported.tasks) {
        this.put(changed, copy(task), null);
        this.nextId = Math.max(this.nextId, Number(task.id) + 1);
      }
      for (const name of imported.pausedQueues) this.paused.add(name);
      this.schedules = { ...this.schedules, ...copy(imported.schedules) };
      addCounters(this.tally.counts, imported.counters);
      return { clashes };
    });
  }

  /** The bgtask home's files, as the file journal's: the memory store keeps records only. */
  taskOutput(_home: string): TaskOutput {
    return this.output;
  }

  tickHolder(mutex: string): Promise<TickHolder | null> {
    return this.run(() => copy(this.ticks.get(mutex) ?? null));
  }

  acquireTick(mutex: string, holder: TickHolder, vacated: TickHolder | null): Promise<TickHolder | null> {
    return this.run(() => {
      const current = this.ticks.get(mutex);
      if (current && !(vacated && isSameHolder(current, vacated))) return copy(current);
      this.ticks.set(mutex, copy(holder));
      return null;
    });
  }

  releaseTick(mutex: string, holder: TickHolder): Promise<void> {
    return this.run(() => {
      const current = this.ticks.get(mutex);
      if (current && isSameHolder(current, holder)) this.ticks.delete(mutex);
    });
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
