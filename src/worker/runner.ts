// The worker's claim loop: register in the slot the spawner reserved, claim the oldest runnable
// tasks, one for each free place (it runs up to `places` tries at once in this event loop, each
// through try.ts), and repeat until the queue stays empty for the idle window (or a scheduled task
// due within the schedule window is slept for). A supervisor thread watches every try.
// The tries that ended are recorded together with the next claim, and one claim takes a task for
// every free place: one journal write for many tasks. While tasks end quickly the worker also
// claims some ahead of a free place (a local queue, as graphile-worker's). Before a
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
import { spawnWorker, startWorkersIfNeeded } from "./spawn.ts";
import { Supervisor } from "./supervisor.ts";
import { discardEnded, isolationOf, runTry, type EndedTry } from "./try.ts";
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
  /** How many tries run at once (default 1). */
  places?: number;
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
  /** Start a worker in its place when it leaves to be renewed (see `renewal`); `bgtask work` restarts its own. */
  replaceWhenRenewed?: boolean;
}

/** A try in flight, in its place on the supervisor's board. */
interface Flight {
  task: TaskRecord;
  place: number;
  controller: AbortController;
  /** Recorded by the supervisor past its grace period: whatever it does from now on is not recorded. */
  leaked: boolean;
  /** Aborted when it is let go: a try in a sandbox of its own (thread or process) is stopped with it. */
  letGo: AbortController;
  /** Runs in a thread or process of its own: letting it go leaves nothing in this worker's event loop. */
  isolated: boolean;
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
  /** The tasks whose ends the write under way records. */
  private recordingIds: string[] = [];
  private readonly executors = new Map<string, Promise<LoadedExecutor>>();
  private readonly identity = currentProcess();
  private readonly slot: string;
  private readonly places: number;
  private supervisor: Supervisor | null = null;
  /** The tries in flight, by lease. */
  private readonly flights = new Map<string, Flight>();
  /** Places on the supervisor's board no try holds. */
  private readonly free: number[];
  /** Every try in flight but those let go, to wait for before leaving. */
  private readonly running = new Map<Flight, Promise<void>>();
  private stopRequests = 0;
  private readonly ran = new Set<string>();
  /** Tries that ended and are not recorded yet: the next claim records them in the same write. */
  private ended: EndedTry[] = [];
  /** Tasks claimed ahead of a free place (never any unless tries end quickly). */
  private local: TaskRecord[] = [];
  private batch = 1;
  /** Every try since the last claim ended within FAST_TRY_MS; false until one has (the first claim takes none ahead). */
  private fast = false;
  /** The journal write under way: the loop's and the hold timer's never overlap. */
  private writing: Promise<unknown> = Promise.resolve();
  private hold: NodeJS.Timeout | null = null;
  private readonly note: StartedNote;
  private stopping = false;
  /** A try was taken away from this worker (cut off from the journal, or presumed dead): it leaves, and a successor takes its slot. */
  private lost = false;
  /** Why this worker takes no more tasks and leaves once its tries end, to be replaced; null while it is sound. */
  private renewal: string | null = null;
  private tries = 0;
  /** Wakes the idle wait early: a change to the journal (a task enqueued), or a try that ended. */
  private wake: (() => void) | null = null;
  /** A change was noticed while not idle (during a claim, say): the next idle wait looks again at once instead of sleeping through it. */
  private changedMeanwhile = false;
  private changes: { close(): void } | null = null;
  private readonly recovery = new RecoveryPace(RECOVER_EVERY_MS);
  private readonly schedules: ScheduleFirer;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.slot = options.slot ?? uniqueName();
    this.places = options.places ?? 1;
    this.free = Array.from({ length: this.places }, (_, i) => this.places - 1 - i);
    this.store = patientStore(options.store, { waitMs: options.config.timings.diskWaitMs, signal: this.stopWaiting.signal });
    this.note = new StartedNote(options.config.home);
    this.schedules = new ScheduleFirer(options.config, this.store);
  }

  /**
   * A first call (SIGTERM) stops claiming and lets the tries in flight finish; those that have not
   * after the grace period have their signal aborted ("shutdown"). A second call forces them: each
   * is recorded as failed with `reason` (retried by its policy) and the process is killed.
   */
  stop(reason: string): void {
    this.stopRequests += 1;
    this.stopping = true;
    // An idle worker (sleeping until a schedule's slot, say) leaves now, not when its wait ends.
    this.wake?.();
    // Tries running or being recorded are let finish, their records waiting for space; nothing else waits.
    if (this.stopRequests > 1 || (this.flights.size === 0 && this.ended.length === 0 && !this.recording)) this.stopWaiting.abort();
    if (this.stopRequests === 1) {
      const graceMs = this.options.config.timings.cancelGraceMs;
      workerSay(
        `${reason}: claiming nothing more, letting the current ${this.flights.size > 1 ? `${this.flights.size} tries` : "try"} finish (aborted after ${graceMs}ms); stop it again to force it`,
      );
      setTimeout(() => {
        for (const flight of this.flights.values()) flight.controller.abort(AbortReason.shutdown);
      }, graceMs).unref();
    } else if (this.flights.size > 0) {
      this.supervisor?.force(reason);
    }
  }

  async run(): Promise<void> {
    const { config } = this.options;
    const store = this.store;
    this.supervisor = new Supervisor(
      config,
      this.slot,
      this.places,
      (message) => {
        const flight = this.flights.get(message.lease);
        if (!flight) return;
        if (message.type === "abort") flight.controller.abort(message.reason);
        else this.letGo(flight);
      },
      (error) => {
        workerSay(`supervisor thread failed, stopping: ${error.stack ?? error.message}`);
        this.stop("worker stopped (its supervisor failed)");
      },
    );
    try {
      await store.registerWorker(this.slot, this.identity, new Date());
      await this.loop();
      await Promise.all(this.running.values());
      await this.settleEnded();
      if (this.renewal !== null) workerSay(`${this.renewal}: its tries ended, leaving`);
    } finally {
      this.changes?.close();
      this.note.close();
      await this.supervisor.close();
      await this.options.store.releaseWorker(this.slot).catch(() => undefined);
      if (this.lost) this.startSuccessor();
    }
  }

  /**
   * A detached worker that lost a try leaves, maybe with the journal out of reach (a database down
   * past the fence): a successor in its slot waits for the journal as a new worker does, recovers
   * the tries left behind and drains the backlog, with no `run` or tick needed. It needs no journal
   * write to start; `bgtask work` restarts its own workers instead.
   */
  private startSuccessor(): void {
    if (!this.options.replaceWhenRenewed || !this.options.config.worker) return;
    const pid = spawnWorker(this.options.config, this.slot);
    workerSay(`a try was taken away from this worker; worker ${pid ?? "?"} takes its place`);
  }

  private async loop(): Promise<void> {
    const { config } = this.options;
    const store = this.store;
    const { until } = this.options;
    let idleSince = Date.now();
    while (!this.stopping && !this.supervisor!.forcing && this.renewal === null) {
      if (until !== undefined && Date.now() >= until) return;
      const room = this.room();
      if (room > 0 && this.local.length > 0) {
        this.launch(this.local.splice(0, room));
        continue;
      }
      if (room === 0) {
        await this.idle(IDLE_POLL_MS, false);
        continue;
      }
      // A drain of quick tries can go on in promise callbacks alone, which starve the event loop:
      // SIGTERM, the hold timer and the supervisor's messages are handled only when it turns.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopping || this.renewal !== null) break;
      await this.schedules.fireDue();
      // The last tries' results and the next claim are one journal write.
      const starting = room;
      const claimed = await this.handOver(starting + this.nextBatch() - 1, [], starting);
      if (claimed === null) return;
      if (claimed.length > 0) {
        const now = claimed.slice(0, starting);
        this.local = claimed.slice(starting);
        this.launch(now);
        idleSince = Date.now();
        continue;
      }
      if (this.flights.size > 0) {
        // Busy, with places free and nothing to claim: look again when a try ends or the journal changes.
        await this.idle(IDLE_POLL_MS, true);
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
        await this.idle(Math.min(untilSlot ?? Number.POSITIVE_INFINITY, this.options.stayIdle ? STAY_POLL_MS : config.timings.workerIdleMs), true);
        continue;
      }
      if (Date.now() - idleSince >= config.timings.workerIdleMs) {
        const retire = await store.retireWorker(this.slot, new Date(), config.timings.scheduleWindowMs);
        if (retire.retired) return;
        if (retire.nextDueAt) await sleep(Math.max(0, Math.min(Date.parse(retire.nextDueAt) - Date.now(), config.timings.workerIdleMs)));
        idleSince = Date.now();
        continue;
      }
      await this.idle(Math.min(IDLE_POLL_MS, untilSlot ?? IDLE_POLL_MS), true);
    }
  }

  /** How many tries may start now: the free places, and no more than maxTasksPerWorker allows. */
  private room(): number {
    const { maxTasksPerWorker } = this.options.config;
    return maxTasksPerWorker === null ? this.free.length : Math.min(this.free.length, maxTasksPerWorker - this.tries);
  }

  /** Milliseconds until a schedule's next slot (0 when one is due), or null without schedules. */
  private untilSlot(): number | null {
    const next = this.schedules.nextAt;
    return next === null ? null : Math.max(0, next - Date.now());
  }

  /** Resolves after `ms`, or as soon as a try ends, or (with `onChange`) the journal changes. */
  private idle(ms: number, onChange: boolean): Promise<void> {
    if (onChange) {
      this.changes ??= this.options.store.watchChanges(() => {
        if (this.wake) this.wake();
        else this.changedMeanwhile = true;
      });
      if (this.changedMeanwhile) {
        this.changedMeanwhile = false;
        return Promise.resolve();
      }
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

  /** How many tasks the next claim takes for one place: doubled after a batch of quick tries, 1 after a slow one; 1 in a tick (its budget is per try). */
  private nextBatch(): number {
    const { until, oncePerTask } = this.options;
    this.batch = until !== undefined || oncePerTask || !this.fast ? 1 : Math.min(MAX_BATCH, this.batch * 2);
    this.fast = true;
    return this.batch;
  }

  /** Starts `tasks`, each in a free place; what is claimed ahead waits at most HOLD_MS for one. */
  private launch(tasks: readonly TaskRecord[]): void {
    if (tasks.length > 0 && this.local.length === 0 && this.hold) {
      clearTimeout(this.hold);
      this.hold = null;
    }
    // Before their executors run, and with every try whose end is not recorded yet (see StartedNote).
    const started = [...this.flights.values(), ...tasks.map((task) => ({ task }))].map((flight) => flight.task.id);
    this.note.write([...started, ...this.ended.map((end) => end.id), ...this.recordingIds]);
    for (const task of tasks) {
      const place = this.free.pop()!;
      const flight: Flight = { task, place, controller: new AbortController(), leaked: false, letGo: new AbortController(), isolated: false };
      this.flights.set(task.lease!, flight);
      this.running.set(
        flight,
        this.runOne(flight).finally(() => {
          this.running.delete(flight);
          this.wake?.();
        }),
      );
    }
    // Other workers may be idle while these tries run long: what was claimed ahead goes back.
    if (this.local.length > 0) this.hold ??= setTimeout(() => this.giveBackLocal(), HOLD_MS);
  }

  /** The supervisor recorded this try past its grace period: its place is free, and the worker is renewed once the others end. */
  private letGo(flight: Flight): void {
    if (flight.leaked) return;
    flight.leaked = true;
    this.running.delete(flight);
    this.release(flight);
    flight.letGo.abort();
    if (!flight.isolated) this.renew(`task ${flight.task.id} did not stop when asked`);
    this.wake?.();
  }

  private release(flight: Flight): void {
    if (this.flights.get(flight.task.lease!) !== flight) return;
    this.flights.delete(flight.task.lease!);
    this.supervisor!.unwatch(flight.place);
    this.free.push(flight.place);
  }

  /**
   * One journal write: records the tries that ended, gives back `giveBack` and claims up to `claim`
   * tasks, the first `starting` of any kind (see Exchange). Null when a lease was lost (this worker
   * was presumed dead): it must stop. Writes never overlap.
   */
  private handOver(claim: number, giveBack: readonly TaskRecord[] = [], starting = 1): Promise<TaskRecord[] | null> {
    const write = this.writing.then(() => this.exchange(claim, giveBack, starting));
    this.writing = write.catch(() => undefined);
    return write;
  }

  private async exchange(claim: number, giveBack: readonly TaskRecord[], starting: number): Promise<TaskRecord[] | null> {
    const ends = this.ended.splice(0);
    this.recordingIds = ends.map((end) => end.id);
    const now = new Date();
    const gathered = claim > 0 && this.recovery.due(now) ? await gatherRecovery(this.store, this.options.config, now) : null;
    const exchange = {
      ends,
      giveBack: giveBack.map((t) => ({ id: t.id, lease: t.lease! })),
      claim,
      start: starting,
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
    return next.length === 0 && gathered === null && this.flights.size === 0 ? this.exchange(claim, [], starting) : next;
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

  /** Gives back the tasks claimed ahead (and records what ended) while the tries in flight run on. */
  private giveBackLocal(): void {
    this.hold = null;
    const local = this.local.splice(0);
    if (local.length === 0) return;
    // Raised where the loop's next write awaits it, not as an unhandled rejection meanwhile.
    this.handOver(0, local).catch(() => undefined);
  }

  /** When the loop stops: records what ended and gives back what was claimed ahead. */
  private async settleEnded(): Promise<void> {
    if (this.hold) clearTimeout(this.hold);
    await this.writing;
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

  /** Runs one try (try.ts) in its place; a try no longer this worker's stops the worker: write nothing more, and leave. */
  private async runOne(flight: Flight): Promise<void> {
    const { task, place, controller } = flight;
    const supervisor = this.supervisor!;
    if (this.options.oncePerTask) this.ran.add(task.id);
    if (this.options.echo) workerSay(`task ${task.id} (${task.executor}) started, try ${task.tries}`);
    const started = Date.now();
    this.tries += 1;
    if (this.tries === this.options.config.maxTasksPerWorker) this.renew(`ran ${this.tries} tries (maxTasksPerWorker)`);
    try {
      const ended = await runTry(task, {
        config: this.options.config,
        store: this.store,
        supervisor: {
          watch: (watched, clockOffsetMs) => {
            if (!flight.leaked) supervisor.watch(place, watched, clockOffsetMs);
          },
          unwatch: () => {
            if (!flight.leaked) supervisor.unwatch(place);
          },
        },
        executor: async (name) => {
          const executor = await this.executor(name);
          flight.isolated = isolationOf(this.options.config, executor) !== "inline";
          return executor;
        },
        controller,
        letGo: flight.letGo.signal,
        until: this.options.until,
      });
      // A try let go was recorded by the supervisor: what it says now is not this worker's to write.
      if (flight.leaked) return;
      if (ended === null) this.stopping = this.lost = true;
      else this.ended.push(ended);
    } finally {
      this.release(flight);
      if (Date.now() - started > FAST_TRY_MS) this.fast = false;
      this.checkRenewal();
    }
  }

  /**
   * Takes no more tasks, and leaves once the tries in flight end. Its slot goes to a new worker at
   * once (a detached one starts it; `bgtask work` restarts its own when this one exits): the host
   * is not left without a worker taking tasks while these finish.
   */
  private renew(reason: string): void {
    if (this.renewal !== null) return;
    this.renewal = reason;
    workerSay(`${reason}: taking no more tasks; a new worker takes over`);
    if (this.options.replaceWhenRenewed) {
      startWorkersIfNeeded(this.options.config, this.store, this.slot).catch((error: unknown) =>
        workerSay(`could not start a worker in this one's place: ${(error as Error).message}`),
      );
    }
  }

  /** After a try: a worker past its memory ceiling takes no more, and is replaced once its other tries end (its count of tries is checked as each starts). */
  private checkRenewal(): void {
    const { maxWorkerMemoryMb } = this.options.config;
    if (this.renewal === null && maxWorkerMemoryMb !== null) {
      const mb = process.memoryUsage.rss() / 1024 / 1024;
      if (mb > maxWorkerMemoryMb) this.renew(`uses ${Math.round(mb)} MB (maxWorkerMemoryMb ${maxWorkerMemoryMb})`);
    }
  }
}
