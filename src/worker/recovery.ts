// How a worker, a tick or a live view judges other processes' tries, and stops what must stop:
// it gathers the facts only this host can know (is that process alive? what do its beat file and
// its note say?) about what the store's survey shows, takes core/recovery.ts's verdicts, and kills
// processes outside the store, in the order that keeps the lease's guarantee (see forceTry).
import { isScheduleDueWithin } from "./schedules.ts";
import { hostname } from "node:os";
import { slotsPerWorker, type Config } from "../config/config.ts";
import { holdsTick, judgeTry, type TickHolder, type TryVerdict, type WorkerFacts } from "../core/recovery.ts";
import type { TaskRecord, WorkerRef } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import { lastBeat, startedTasks } from "../host/beat.ts";
import { canTerminate, liveness, terminate } from "../host/process-identity.ts";
import type { JournalStore, Recovery, RecoverResult, SlotRequest } from "../journal/store.ts";

/** A recovery to hand to the store, with the workers of the tries it judged. */
export interface Gathered {
  recovery: Recovery;
  /** The worker of each try given a verdict, as the journal recorded it: an overdue one is killed once the store ended the try. */
  workers: Map<string, WorkerRef>;
}

/** This host's slots whose registered process is gone. */
function deadSlotsOf(slots: readonly { slot: string; process: WorkerRef | null }[]): string[] {
  return slots.filter((s) => s.process !== null && liveness(s.process) === "dead").map((s) => s.slot);
}

/**
 * Judges every running try from the facts about its worker. A dead worker's process group is
 * killed here, before any new try: the children its executor started may outlive it. It cannot
 * move on to another task, so killing it first takes nothing else down.
 */
export async function gatherRecovery(store: JournalStore, config: Config, now: Date): Promise<Gathered> {
  const { running, slots } = await store.survey(hostname());
  const clock = await store.clock();
  const beatOf = lastBeat(config.home);
  const noteOf = startedTasks(config.home);
  const limits = { heartbeatTimeoutMs: config.timings.heartbeatTimeoutMs, graceMs: config.timings.cancelGraceMs };
  const verdicts: TryVerdict[] = [];
  const workers = new Map<string, WorkerRef>();
  for (const task of running) {
    if (task.worker === null || task.lease === null) continue;
    const state = liveness(task.worker);
    const facts: WorkerFacts = {
      liveness: state,
      lastBeatAt: beatOf(task.worker),
      started: noteOf(task.worker),
      killable: canTerminate(task.worker, state),
    };
    const verdict = judgeTry(task, facts, now, limits, clock);
    if (verdict.kind === "fine") continue;
    if (verdict.kind === "lost" && verdict.dead) terminate(task.worker);
    workers.set(task.id, task.worker);
    verdicts.push({ id: task.id, lease: task.lease, verdict });
  }
  return { recovery: { verdicts, deadSlots: deadSlotsOf(slots) }, workers };
}

/**
 * When a worker's claim also judges other workers' tries: that scans every running try, so once
 * per `everyMs` while there is work, and on every claim while there is none (a lost try may be
 * the work it waits for). A clock set back counts as due.
 */
export class RecoveryPace {
  private readonly everyMs: number;
  private lastAt = -Infinity;
  private idle = false;

  constructor(everyMs: number) {
    this.everyMs = everyMs;
  }

  due(now: Date): boolean {
    const since = now.getTime() - this.lastAt;
    return this.idle || since >= this.everyMs || since < 0;
  }

  recovered(now: Date): void {
    this.lastAt = now.getTime();
  }

  /** What the last claim found: nothing makes the next one recover. */
  claimed(count: number): void {
    this.idle = count === 0;
  }
}

/** Kills the workers of the tries the store ended as overdue (`forced`). */
export function killForced(gathered: Gathered, forced: readonly string[]): void {
  for (const id of forced) {
    const worker = gathered.workers.get(id);
    if (worker) terminate(worker);
  }
}

/** What a recovery outside a claim did, with what it judged: the verdicts and the worker of each try, as the journal recorded it. */
export interface RecoveredNow extends RecoverResult {
  gathered: Gathered;
}

/** Recovers now, outside a claim: a tick, a live view that saw a worker go. */
export async function recoverNow(store: JournalStore, config: Config): Promise<RecoveredNow> {
  const now = new Date();
  const gathered = await gatherRecovery(store, config, now);
  const result = await store.recover(now, gathered.recovery);
  killForced(gathered, result.forced);
  return { ...result, gathered };
}

/**
 * Stops a try by force: ends it with `outcome` under its lease, then kills its worker. In this
 * order a worker cannot move on in between: once its try is ended, the exchange that would record
 * the try and claim another finds the lease lost and claims nothing (and what it had claimed ahead
 * went back long before: a try is forced only past its grace period, a local queue is given back
 * after runner.ts's HOLD_MS). When the try ended by itself
 * first, the store says null and nothing is killed. A worker that cannot be checked from here
 * (another host, no start time) is left alone and its try too.
 */
export async function forceTry(store: JournalStore, task: TaskRecord, outcome: TryOutcome, now: Date): Promise<TaskRecord | null> {
  if (task.worker === null || task.lease === null || !canTerminate(task.worker)) return null;
  const ended = await store.forceEnd(task.id, task.lease, outcome, now);
  if (ended !== null) terminate(task.worker);
  return ended;
}

/** A worker-slot request for this host, with the slots whose process is gone found first. */
export async function slotRequest(store: JournalStore, config: Config): Promise<SlotRequest> {
  const { slots } = await store.survey(hostname());
  const { scheduleWindowMs } = config.timings;
  const scheduleDue = isScheduleDueWithin(config, new Date(), scheduleWindowMs);
  return {
    host: hostname(),
    maxWorkers: Math.min(config.workers, config.concurrency),
    places: slotsPerWorker(config),
    scheduleWindowMs,
    scheduleDue,
    deadSlots: deadSlotsOf(slots),
  };
}

/** Takes the tick mutex `mutex` for `holder` unless a live tick holds it; returns that tick, or null when taken. */
export async function takeTickMutex(store: JournalStore, mutex: string, holder: TickHolder, now: Date): Promise<TickHolder | null> {
  const current = await store.tickHolder(mutex);
  const vacated = current !== null && !holdsTick(current, liveness(current.process), now) ? current : null;
  return store.acquireTick(mutex, holder, vacated);
}
