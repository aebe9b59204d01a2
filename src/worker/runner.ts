// The worker loop: register in the slot the spawner reserved, claim the oldest runnable task,
// run it, record how it ended, and repeat until the queue stays empty for the idle window.
import { randomBytes } from "node:crypto";
import type { Config } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import { LeaseLostError } from "../errors.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { loadExecutor, type LoadedExecutor } from "../executor/load.ts";
import { currentProcess, liveness } from "../host/process-identity.ts";
import type { JournalStore } from "../journal/store.ts";
import { executeTry } from "./execute.ts";
import { Reporter } from "./reporter.ts";
import { TaskLog } from "./task-log.ts";
import { toTaskError } from "./task-error.ts";

const IDLE_POLL_MS = 100;

export interface RunnerOptions {
  config: Config;
  store: JournalStore;
  /** The slot reserved by the spawner; a worker started by hand makes its own. */
  slot?: string;
  /** Stop claiming new work once this time (epoch ms) is near: a tick's budget. */
  until?: number;
  /** Exit at once when the queue is empty instead of waiting the idle window (ticks). */
  exitWhenIdle?: boolean;
  /** Give each task at most one try or slice (a tick shares its budget fairly). */
  oncePerTask?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Runner {
  private readonly options: RunnerOptions;
  private readonly executors = new Map<string, Promise<LoadedExecutor>>();
  private readonly identity = currentProcess();
  private readonly slot: string;
  private current: AbortController | null = null;
  private readonly ran = new Set<string>();
  private stopping = false;

  constructor(options: RunnerOptions) {
    this.options = options;
    this.slot = options.slot ?? randomBytes(8).toString("hex");
  }

  /** Asks the loop to finish the current try and stop; the try's signal is aborted. */
  stop(reason: string): void {
    this.stopping = true;
    this.current?.abort(reason);
  }

  async run(): Promise<void> {
    const { store, config } = this.options;
    await store.registerWorker(this.slot, this.identity, new Date());
    let idleSince = Date.now();
    while (!this.stopping) {
      if (this.options.until !== undefined && Date.now() >= this.options.until) break;
      const task = await store.claimNext(this.slot, this.identity, new Date(), {
        liveness,
        heartbeatTimeoutMs: config.timings.heartbeatTimeoutMs,
        exclude: this.options.oncePerTask ? this.ran : undefined,
      });
      if (task) {
        this.ran.add(task.id);
        await this.runTry(task);
        idleSince = Date.now();
        continue;
      }
      if (this.options.exitWhenIdle || Date.now() - idleSince >= config.timings.workerIdleMs) {
        const retire = await store.retireWorker(this.slot, new Date(), config.timings.workerIdleMs);
        if (retire.retired) return;
        if (retire.nextDueAt) await sleep(Math.max(0, Math.min(Date.parse(retire.nextDueAt) - Date.now(), config.timings.workerIdleMs)));
        idleSince = Date.now();
        continue;
      }
      await sleep(IDLE_POLL_MS);
    }
    await store.retireWorker(this.slot, new Date(), 0).catch(() => undefined);
  }

  private executor(name: string): Promise<LoadedExecutor> {
    let loading = this.executors.get(name);
    if (!loading) {
      loading = loadExecutor(resolveExecutor(this.options.config.tasksDir, name));
      this.executors.set(name, loading);
    }
    return loading;
  }

  private async runTry(task: TaskRecord): Promise<void> {
    const { store, config } = this.options;
    const lease = task.lease!;
    const controller = new AbortController();
    this.current = controller;
    const log = new TaskLog(config.home, task.id, task.tries);
    const reporter = new Reporter(store, task.id, lease, {
      intervalMs: config.timings.reportIntervalMs,
      heartbeatMs: config.timings.heartbeatMs,
      onLeaseLost: () => controller.abort("lease lost"),
      onWriteError: (error) => log.write("bgtask", `a progress report could not be saved yet (${(error as Error).message}); it is kept and retried\n`),
    });
    let outcome: TryOutcome;
    try {
      const executor = await this.executor(task.executor);
      const slice = Date.now() + executor.sliceMs;
      outcome = await executeTry({
        task,
        executor,
        home: config.home,
        root: config.root,
        tasksDir: config.tasksDir,
        signal: controller.signal,
        reporter,
        log,
        deadline: this.options.until !== undefined ? Math.min(slice, this.options.until) : slice,
      });
    } catch (thrown) {
      // The executor could not be loaded: it would fail the same way on every try.
      const { record } = toTaskError(thrown, config.tasksDir, config.root);
      log.write("bgtask", `${record.message}\n`);
      outcome = { kind: "failed", error: record, message: null, unrecoverable: true };
    }
    try {
      await reporter.flush();
      // The last report must land: one more try if the journal refused it a moment ago.
      if (reporter.unsaved) await reporter.flush();
      reporter.stop();
      log.endLines();
      if (reporter.leaseLost) {
        log.write("bgtask", "this try was taken away from this worker (presumed dead); its outcome is discarded\n");
        return;
      }
      await store.settle(task.id, lease, outcome, new Date());
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      log.write("bgtask", "this try was taken away from this worker (presumed dead); its outcome is discarded\n");
    } finally {
      reporter.stop();
      log.close();
      this.current = null;
    }
  }
}
