// The worker's claim loop: register in the slot the spawner reserved, claim the oldest runnable
// task, run it (try.ts), and repeat until the queue stays empty for the idle window (or a
// scheduled task due within the schedule window is slept for). A supervisor thread watches each try.
// While tasks end quickly the worker claims several at once (a local queue, as graphile-worker's)
// and records their ends together with the next claim: one journal write for many tasks. Before a
// claim, now and then, it judges other workers' tries (recovery.ts) and hands the verdicts over
// with the claim.
import type { Config } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import type { ClaimFilter } from "../core/transitions.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { loadExecutor, type LoadedExecutor } from "../executor/load.ts";
import { currentProcess } from "../host/process-identity.ts";
import type { JournalStore } from "../journal/store.ts";
import { StartedNote } from "../host/beat.ts";
import { AbortReason } from "./abort-reasons.ts";
import { patientStore } from "./disk-patience.ts";
import { gatherRecovery, killForced, RecoveryPace } from "./recovery.ts";
import { runFinishHooks } from "./hooks.ts";
import { ScheduleFirer } from "./schedules.ts";
import { Supervisor } from "./supervisor.ts";
import { discardEnded, runTry, type EndedTry } from "./try.ts";
import { workerSay } from "./worker-log.ts";
import { uniqueName } from "../host/unique-name.ts";

const IDLE_POLL_MS = 100;
/** How often a worker that never retires (`bgtask work`) looks for due work when nothing wakes it. */
const STAY_POLL_MS = 1_000;
/** The most tasks claimed ahead of their start. */
const MAX_BATCH = 32;
/** A batch whose every try ended within this long lets the next be twice as large; one slower try makes it 1 again. */
const FAST_TRY_MS = 10;
/** A try still running after this long gives back the tasks claimed after it (other workers may be idle). */
const HOLD_MS = 50;
// Looking for dead workers' tries scans the whole active set: once a second is soon enough while
// there is work (an idle claim always looks), and a busy drain does not pay it per task.
const RECOVER_EVERY_MS = 1_000;

export interface RunnerOptions {
  config: Config;
  store: JournalStore;
  /** The slot reserved by the spawner; a worker started by hand makes its own. */
  slot?: string;
  /** Stop claiming new work once this time (epoch ms) is near, and claim no task whose timeout outlasts it: a tick's budget. */
  until?: number;
  /** Exit at once when nothing is due instead of waiting the idle window (ticks). */
  exitWhenIdle?: boolean;
  /** Give each task at most one try or slice (a tick shares its budget fairly). */
  oncePerTask?: boolean;
  /** Never retire when idle: `bgtask work` runs until it is stopped. */
  stayIdle?: boolean;
  /** Claim only tasks of these executors (`bgtask work --executor`). */
  executors?: readonly string[];
  /** Say on stderr which task starts and how each try ends (`bgtask work`, whose stderr is a terminal). */
  echo?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Runner {
  private readonly options: RunnerOptions;
  /** The journal, its writes retried while the disk is full (the options' store only frees the slot on exit). */
  private readonly store: JournalStore;
  /** Aborted when waiting for disk space must end: a forced stop, or a stop with no try to finish. */
  private readonly stopWaiting = new AbortController();
  /** A try's outcome is being written. */
  private recording = false;
  private readonly executors = new Map<string, Promise<LoadedExecutor>>();
  private readonly identity = currentProcess();
  private readonly slot: string;
  private supervisor: Supervisor | null = null;
  private current: { lease: string; controller: AbortController } | null = null;
  private stopRequests = 0;
  private readonly ran = new Set<string>();
  /** Tries that ended and are not recorded yet: the next claim records them in the same write. */
  private ended: EndedTry[] = [];
  /** Tasks claimed ahead of their start (never more than one unless tries end quickly). */
  private local: TaskRecord[] = [];
  private batch = 1;
  /** Every try since the last claim ended within FAST_TRY_MS; false until one has (the first claim takes one task). */
  private fast = false;
  /** A write that gives back the local queue while a try runs long. */
  private handing: Promise<void> | null = null;
  private readonly note: StartedNote;
  private stopping = false;
  /** Wakes the idle wait early: a change to the journal (a task enqueued) is claimed at once, not at the next poll. */
  private wake: (() => void) | null = null;
  /** A change was noticed while not idle (during a claim, say): the next idle wait looks again at once instead of sleeping through it. */
  private changedMeanwhile = false;
  private changes: { close(): void } | null = null;
  private readonly recovery = new RecoveryPace(RECOVER_EVERY_MS);
  private readonly schedules: ScheduleFirer;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.slot = options.slot ?? uniqueName();
    this.store = patientStore(options.store, { waitMs: options.config.timings.diskWaitMs, signal: this.stopWaiting.signal });
    this.note = new StartedNote(options.config.home);
    this.schedules = new ScheduleFirer(options.config, this.store);
  }

  /**
   * A first call (SIGTERM) stops claiming and lets the current try finish; if it has not after the
   * grace period, its signal is aborted ("shutdown"). A second call forces it: the try is recorded as
   * failed with `reason` (retried by its policy) and the process is killed.
   */
  stop(reason: string): void {
    this.stopRequests += 1;
    this.stopping = true;
    // An idle worker (sleeping until a schedule's slot, say) leaves now, not when its wait ends.
    this.wake?.();
    // A try running or being recorded is let finish, its record waiting for space; nothing else waits.
    if (this.stopRequests > 1 || (this.current === null && this.ended.length === 0 && !this.recording)) this.stopWaiting.abort();
    if (this.stopRequests === 1) {
      const graceMs = this.options.config.timings.cancelGraceMs;
      workerSay(`${reason}: claiming nothing more, letting the current try finish (its signal is aborted after ${graceMs}ms); stop it again to force it`);
      setTimeout(() => this.current?.controller.abort(AbortReason.shutdown), graceMs).unref();
    } else if (this.current) {
      this.supervisor?.force(reason);
    }
  }

  async run(): Promise<void> {
    const { config } = this.options;
    const store = this.store;
    this.supervisor = new Supervisor(
      config,
      this.slot,
      (request) => {
        if (this.current?.lease === request.lease) this.current.controller.abort(request.reason);
      },
      (error) => {
        workerSay(`supervisor thread failed, stopping: ${error.stack ?? error.message}`);
        this.stop("worker stopped (its supervisor failed)");
      },
    );
    try {
      await store.registerWorker(this.slot, this.identity, new Date());
      await this.loop();
      await this.settleEnded();
    } finally {
      this.changes?.close();
      this.note.close();
      await this.supervisor.close();
      await this.options.store.releaseWorker(this.slot).catch(() => undefined);
    }
  }

  private async loop(): Promise<void> {
    const { config } = this.options;
    const store = this.store;
    const { until } = this.options;
    let idleSince = Date.now();
    while (!this.stopping && !this.supervisor!.forcing) {
      if (until !== undefined && Date.now() >= until) return;
      let task = this.local.shift() ?? null;
      if (!task) {
        // A drain of quick tries can go on in promise callbacks alone, which starve the event loop:
        // SIGTERM, the hold timer and the supervisor's messages are handled only when it turns.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.stopping) break;
        await this.handing;
        await this.schedules.fireDue();
        // The last tries' results and the next claim are one journal write.
        const claimed = await this.handOver(this.nextBatch());
        if (claimed === null) return;
        [task = null, ...this.local] = claimed;
      }
      if (task) {
        // Only a tick asks: a worker draining a deep queue would keep every id it ever ran.
        if (this.options.oncePerTask) this.ran.add(task.id);
        const started = Date.now();
        // Other workers may be idle while this try runs long: what it claimed ahead goes back.
        const hold = this.local.length > 0 ? setTimeout(() => this.giveBackLocal(), HOLD_MS) : null;
        const ended = await this.runOne(task);
        if (hold) clearTimeout(hold);
        if (ended) this.ended.push(ended);
        if (Date.now() - started > FAST_TRY_MS) this.fast = false;
        idleSince = Date.now();
        continue;
      }
      if (this.options.exitWhenIdle) return;
      const untilSlot = this.untilSlot();
      if (
        Date.now() - idleSince >= config.timings.workerIdleMs &&
        (this.options.stayIdle || (untilSlot !== null && untilSlot <= config.timings.scheduleWindowMs))
      ) {
        // Staying: for the next slot of a schedule (sleeping until it, or until a change), or for good.
        await this.idle(Math.min(untilSlot ?? Number.POSITIVE_INFINITY, this.options.stayIdle ? STAY_POLL_MS : config.timings.workerIdleMs));
        continue;
      }
      if (Date.now() - idleSince >= config.timings.workerIdleMs) {
        const retire = await store.retireWorker(this.slot, new Date(), config.timings.scheduleWindowMs);
        if (retire.retired) return;
        if (retire.nextDueAt) await sleep(Math.max(0, Math.min(Date.parse(retire.nextDueAt) - Date.now(), config.timings.workerIdleMs)));
        idleSince = Date.now();
        continue;
      }
      await this.idle(Math.min(IDLE_POLL_MS, untilSlot ?? IDLE_POLL_MS));
    }
  }

  /** Milliseconds until a schedule's next slot (0 when one is due), or null without schedules. */
  private untilSlot(): number | null {
    const next = this.schedules.nextAt;
    return next === null ? null : Math.max(0, next - Date.now());
  }

  /** Resolves after `ms`, or as soon as the journal changes. */
  private idle(ms: number): Promise<void> {
    this.changes ??= this.options.store.watchChanges(() => {
      if (this.wake) this.wake();
      else this.changedMeanwhile = true;
    });
    if (this.changedMeanwhile) {
      this.changedMeanwhile = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private claimFilter(): ClaimFilter {
    const { until, oncePerTask } = this.options;
    return {
      excludeIds: oncePerTask ? [...this.ran] : undefined,
      maxTimeoutMs: until === undefined ? undefined : until - Date.now(),
      executors: this.options.executors,
    };
  }

  /** How many tasks the next claim takes: doubled after a batch of quick tries, 1 after a slow one; 1 in a tick (its budget is per try). */
  private nextBatch(): number {
    const { until, oncePerTask } = this.options;
    this.batch = until !== undefined || oncePerTask || !this.fast ? 1 : Math.min(MAX_BATCH, this.batch * 2);
    this.fast = true;
    return this.batch;
  }

  /**
   * One journal write: records the tries that ended, gives back `giveBack` and claims up to `claim`
   * tasks. Null when a lease was lost (this worker was presumed dead): it must stop.
   */
  private async handOver(claim: number, giveBack: readonly TaskRecord[] = []): Promise<TaskRecord[] | null> {
    const ends = this.ended.splice(0);
    const now = new Date();
    const gathered = claim > 0 && this.recovery.due(now) ? await gatherRecovery(this.store, this.options.config, now) : null;
    const exchange = {
      ends,
      giveBack: giveBack.map((t) => ({ id: t.id, lease: t.lease! })),
      claim,
      filter: this.claimFilter(),
      recovery: gathered?.recovery,
    };
    const { settled, next, recovered, stopClaiming } = await this.recordingWhile(() => this.store.exchange(this.identity, now, exchange));
    if (gathered) {
      this.recovery.recovered(now);
      killForced(gathered, recovered?.forced ?? []);
    }
    await this.afterEnds(
      settled.filter((task) => task !== null),
      recovered?.recovered ?? [],
    );
    const lost = ends.filter((_, i) => settled[i] === null);
    if (lost.length > 0) {
      for (const end of lost) await discardEnded(this.store.taskOutput(this.options.config.home), end);
      this.stopping = true;
      return null;
    }
    if (stopClaiming !== undefined) {
      if (!this.stopping) workerSay(`${stopClaiming}: this worker claims nothing more and exits once what it holds is recorded`);
      this.stopping = true;
      return null;
    }
    if (claim === 0) return next;
    this.recovery.claimed(next.length);
    // About to idle without having looked for lost tries: look now.
    return next.length === 0 && gathered === null ? this.handOver(claim) : next;
  }

  /** What follows a recorded end: the terminal told (`echo`), and the hooks of the tasks now final, also those this worker's recovery ended. */
  private async afterEnds(settled: readonly TaskRecord[], recoveredIds: readonly string[]): Promise<void> {
    const { config } = this.options;
    if (this.options.echo) {
      for (const task of settled) workerSay(`task ${task.id} (${task.executor}) ${task.status}${task.message ? `: ${task.message}` : ""}`);
    }
    const recovered: TaskRecord[] = [];
    for (const id of recoveredIds) {
      const task = await this.store.get(id);
      if (task) recovered.push(task);
    }
    if (settled.length > 0 || recovered.length > 0)
      await runFinishHooks(config, this.store.taskOutput(config.home), [...settled, ...recovered], (name) => this.executor(name));
  }

  /** Gives back the tasks claimed ahead (and records what ended) while the current try runs on; the loop awaits it before its next write. */
  private giveBackLocal(): void {
    const local = this.local.splice(0);
    if (local.length === 0) return;
    this.handing = this.handOver(0, local).then(() => undefined);
    // Raised where the loop awaits it, not as an unhandled rejection meanwhile.
    this.handing.catch(() => undefined);
  }

  /** When the loop stops: records what ended and gives back what was claimed ahead. */
  private async settleEnded(): Promise<void> {
    await this.handing;
    if (this.ended.length > 0 || this.local.length > 0) await this.handOver(0, this.local.splice(0));
  }

  private async recordingWhile<T>(write: () => Promise<T>): Promise<T> {
    this.recording = true;
    try {
      return await write();
    } finally {
      this.recording = false;
    }
  }

  private executor(name: string): Promise<LoadedExecutor> {
    let loading = this.executors.get(name);
    if (!loading) {
      loading = loadExecutor(resolveExecutor(this.options.config.tasksDir, name), this.options.config.home);
      this.executors.set(name, loading);
    }
    return loading;
  }

  /** Runs one try (try.ts); a try no longer this worker's stops the worker: write nothing more, and leave. */
  private async runOne(task: TaskRecord): Promise<EndedTry | null> {
    const controller = new AbortController();
    this.current = { lease: task.lease!, controller };
    this.note.started(task.id);
    if (this.options.echo) workerSay(`task ${task.id} (${task.executor}) started, try ${task.tries}`);
    try {
      const ended = await runTry(task, {
        config: this.options.config,
        store: this.store,
        supervisor: this.supervisor!,
        executor: (name) => this.executor(name),
        controller,
        until: this.options.until,
      });
      if (ended === null) this.stopping = true;
      return ended;
    } finally {
      this.current = null;
    }
  }
}
