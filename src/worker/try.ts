// One try of a claimed task, end to end, in a worker (or tick): its log, its reporter, the
// supervisor thread watching it, the executor run (execute.ts), and the last report flushed. It
// records nothing about how the try ended: the claim loop (runner.ts) hands that over with its
// next claim.
import type { Config, Isolation } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import type { JournalStore, TryEnd } from "../journal/store.ts";
import type { TaskOutput } from "../journal/task-output.ts";
import { AbortReason } from "./abort-reasons.ts";
import { executeTry } from "./execute.ts";
import { executeIsolated } from "./isolate.ts";
import { telemetryOf } from "../telemetry/otel.ts";
import { Reporter } from "./reporter.ts";
import { TaskLog } from "./task-log.ts";
import { toTaskError } from "./task-error.ts";

/** A try that ended, waiting to be recorded; `tries` names its log. */
export type EndedTry = TryEnd & { tries: number };

/** The supervisor's watch over one try (its place on the board). */
export interface TryWatch {
  watch(task: TaskRecord, clockOffsetMs: number): void;
  unwatch(): void;
}

export interface TryParts {
  config: Config;
  store: JournalStore;
  supervisor: TryWatch;
  executor: (name: string) => Promise<LoadedExecutor>;
  /** Aborts the try (cancel, timeout, shutdown, lease lost): task.signal. */
  controller: AbortController;
  /** Aborted when the supervisor let the try go past its grace: a try in a sandbox of its own (thread or process) is stopped with it. */
  letGo?: AbortSignal;
  /** A tick's budget (epoch ms): see RunnerOptions.until. */
  until?: number;
}

/** Where `executor`'s tries run: the config's executors key, over the definition. */
export function isolationOf(config: Config, executor: LoadedExecutor): Isolation {
  return config.executors[executor.name]?.isolation ?? executor.definition.isolation ?? "inline";
}

/** Says in the try's log that its outcome is dropped: the worker was presumed dead and another try owns the task now. */
export function noteDiscarded(log: TaskLog): void {
  log.write("bgtask", "this try was taken away from this worker (presumed dead); its outcome is discarded\n");
}

/** Writes noteDiscarded in the log of a try already closed. */
export async function discardEnded(output: TaskOutput, ended: EndedTry): Promise<void> {
  const log = new TaskLog(output, ended.id, ended.tries);
  noteDiscarded(log);
  await log.close();
}

/** Runs one try; returns how it ended, for the next claim to record, or null when it is no longer this worker's. */
export async function runTry(task: TaskRecord, parts: TryParts): Promise<EndedTry | null> {
  const { config, store, supervisor, controller, until } = parts;
  const lease = task.lease!;
  const output = store.taskOutput(config.home);
  const log = new TaskLog(output, task.id, task.tries);
  const reporter = new Reporter(store, task.id, lease, {
    intervalMs: config.timings.reportIntervalMs,
    onLeaseLost: () => controller.abort(AbortReason.leaseLost),
    onWriteError: (error) => log.write("bgtask", `a progress report could not be saved yet (${(error as Error).message}); it is kept and retried\n`),
  });
  let outcome: TryOutcome;
  try {
    const executor = await parts.executor(task.executor);
    // A tick keeps its budget: a plain try with no timeout of its own is stopped at the budget's
    // end as if it timed out then (its signal aborted, forced after the grace period), by the
    // supervisor thread, which also stops an executor that blocks this one. Steps get a deadline.
    const capped = until !== undefined && task.timeoutMs === null && !executor.definition.steps;
    // The claim's heartbeat is on the journal's clock; the supervisor's fence counts on this host's.
    supervisor.watch(capped ? { ...task, timeoutAt: new Date(until).toISOString() } : task, (await store.clock()).offsetMs);
    const slice = Date.now() + executor.sliceMs;
    const deadline = until !== undefined ? Math.min(slice, until) : slice;
    const isolation = isolationOf(config, executor);
    // A sandbox gets the try's span as its task's trace context: the executor's spans are its children there too.
    outcome = await (await telemetryOf(config.root)).process(task, (trace) =>
      isolation !== "inline"
        ? executeIsolated(isolation, {
            task: trace ? { ...task, trace } : task,
            config,
            signal: controller.signal,
            letGo: parts.letGo,
            reporter,
            log,
            deadline,
          })
        : executeTry({ task, executor, output, root: config.root, tasksDir: config.tasksDir, signal: controller.signal, reporter, log, deadline }),
    );
  } catch (thrown) {
    // The executor could not be loaded: it would fail the same way on every try.
    const { record } = toTaskError(thrown, config.tasksDir, config.root);
    log.write("bgtask", `${record.message}\n`);
    outcome = { kind: "failed", error: record, message: null, unrecoverable: true };
  }
  supervisor.unwatch();
  let abandoned = false;
  try {
    await reporter.flush();
    // The last report must land: one more try if the journal refused it a moment ago.
    if (reporter.unsaved) await reporter.flush();
    reporter.stop();
    if (controller.signal.reason === AbortReason.leaseLost) {
      // Another try owns the task, and this worker stops next, maybe cut off from the journal:
      // its last lines are handed over without waiting there.
      log.endPartialLines();
      noteDiscarded(log);
      log.abandon();
      abandoned = true;
      return null;
    }
    await log.endLines();
    return { id: task.id, lease, outcome, tries: task.tries };
  } finally {
    reporter.stop();
    if (!abandoned) await log.close();
  }
}
