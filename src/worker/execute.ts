// Runs one claimed try of a task in this process and says how it ended. Output goes to the task
// log, reports go through the Reporter, and nothing thrown by the executor escapes.
import type { TaskRecord } from "../core/task.ts";
import { timedOutMessage, type TryOutcome } from "../core/transitions.ts";
import type { StepDefinition, TaskApi } from "../executor/definition.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import type { TaskOutput } from "../journal/task-output.ts";
import { AbortReason } from "./abort-reasons.ts";
import { withOutputTo } from "./output-capture.ts";
import type { Reporter } from "./reporter.ts";
import { createTaskApi } from "./task-api.ts";
import { toTaskError } from "./task-error.ts";
import type { TaskLog } from "./task-log.ts";

export interface ExecuteParts {
  task: TaskRecord;
  executor: LoadedExecutor;
  output: TaskOutput;
  root: string;
  tasksDir: string;
  signal: AbortSignal;
  reporter: Reporter;
  log: TaskLog;
  /** Epoch ms by which a step should pause (the slice, or a tick's budget). */
  deadline: number;
}

const STEP_RETRY_LIMIT = 5;
/** A step is cooperative: past its deadline by more than this, the log says so. */
const OVERRUN_REPORT_MS = 2_000;

const cancelled = (signal: AbortSignal) => signal.aborted && signal.reason === AbortReason.cancelled;

function messageOf(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * The bar of a task made of steps, which resumes in slices: it never moves back. The step index
 * drives it (step 2 of 4: 25%) until the task reports a figure of its own; from then on, in this
 * slice and the later ones, the task's figures do, and one below what the bar shows holds it.
 */
class StepBar {
  private value: number;
  own: boolean;

  constructor(task: Pick<TaskRecord, "progress" | "step">) {
    this.value = task.progress;
    this.own = task.step?.ownProgress === true;
  }

  reported(percent: number): number {
    this.own = true;
    this.value = Math.max(this.value, percent);
    return this.value;
  }

  /** The percent to record on reaching step `index` of `count`, or undefined to leave the bar alone. */
  atStep(index: number, count: number): number | undefined {
    const figure = Math.floor((index / count) * 100);
    if (this.own || figure <= this.value) return undefined;
    this.value = figure;
    return figure;
  }
}

async function runSteps(parts: ExecuteParts, api: TaskApi, bar: StepBar): Promise<"done" | "pause"> {
  const steps = parts.executor.definition.steps as StepDefinition[];
  const start = parts.task.step ?? { index: 0, name: steps[0]!.name, count: steps.length };
  let initialized = parts.task.step !== null && parts.task.step.initialized === true;
  for (let index = start.index; index < steps.length; index++) {
    const step = steps[index]!;
    const position = { index, name: step.name, count: steps.length, initialized, ownProgress: bar.own };
    const figure = bar.atStep(index, steps.length);
    parts.reporter.schedule({ step: position, ...(figure === undefined ? {} : { progress: figure }) });
    if (!initialized) {
      await step.init?.(api);
      initialized = true;
      parts.reporter.schedule({ step: { ...position, initialized }, state: api.state });
    }
    let retries = 0;
    for (;;) {
      try {
        const result = await step.run(api, { deadline: parts.deadline });
        const overrunMs = Date.now() - parts.deadline;
        if (overrunMs > OVERRUN_REPORT_MS) {
          parts.log.write("bgtask", `step "${step.name}" ran ${Math.round(overrunMs / 1000)}s past its deadline: check deadline in its loop\n`);
        }
        if (result === "pause") {
          parts.reporter.schedule({ state: api.state, step: { ...position, initialized, ownProgress: bar.own } });
          return "pause";
        }
        break;
      } catch (thrown) {
        const { error } = toTaskError(thrown, parts.tasksDir, parts.root);
        if (!step.onError || retries >= STEP_RETRY_LIMIT || (await step.onError(error, api)) !== "retry") throw thrown;
        retries += 1;
        parts.log.write("bgtask", `step "${step.name}" failed (${error.message}); onError asked to retry it (${retries}/${STEP_RETRY_LIMIT})\n`);
      }
    }
    initialized = false;
    const next = steps[index + 1];
    parts.reporter.schedule({
      state: api.state,
      step: next ? { index: index + 1, name: next.name, count: steps.length, initialized: false, ownProgress: bar.own } : { ...position, ownProgress: bar.own },
    });
    await parts.reporter.flush();
  }
  return "done";
}

export function executeTry(parts: ExecuteParts): Promise<TryOutcome> {
  return withOutputTo(parts.log, () => execute(parts));
}

async function execute(parts: ExecuteParts): Promise<TryOutcome> {
  const { executor, reporter, log } = parts;
  const definition = executor.definition;
  const bar = definition.steps ? new StepBar(parts.task) : null;
  const api = createTaskApi({ ...parts, shownProgress: (percent) => bar?.reported(percent) ?? percent });
  try {
    if (bar) {
      const ended = await runSteps(parts, api, bar);
      if (ended === "pause") return { kind: "paused", message: null };
      return cancelled(parts.signal) ? { kind: "cancelled", message: "cancelled" } : { kind: "succeeded", message: null, result: null };
    }
    const returned = (await definition.run!(api)) ?? {};
    const message = typeof returned === "object" ? messageOf((returned as { message?: unknown }).message) : null;
    const result = typeof returned === "object" ? ((returned as { result?: unknown }).result ?? null) : null;
    // A cooperative executor returns once it sees the abort: it stopped because it was cancelled.
    if (cancelled(parts.signal)) return { kind: "cancelled", message: message ?? "cancelled", result };
    return { kind: "succeeded", message, result };
  } catch (thrown) {
    const { error, record: thrownRecord } = toTaskError(thrown, parts.tasksDir, parts.root);
    const aborted = parts.signal.aborted ? (parts.signal.reason as unknown) : null;
    if (cancelled(parts.signal)) return { kind: "cancelled", message: "cancelled" };
    // What the executor threw on its way out of a timeout is a consequence; the timeout is the cause.
    const record = aborted === AbortReason.timeout ? { ...thrownRecord, message: timedOutMessage(parts.task) } : thrownRecord;
    let message: string | null = null;
    if (typeof definition.onError === "function") {
      try {
        message = messageOf(await definition.onError(error, api));
      } catch (onErrorFailure) {
        log.write("bgtask", `onError() threw: ${toTaskError(onErrorFailure, parts.tasksDir, parts.root).record.message}\n`);
      }
    }
    // The stack is in the record, which `status` shows: the log says where, not the whole stack again.
    log.write("bgtask", `try ${parts.task.tries} failed: ${record.message}${record.where ? ` (${record.where})` : ""}\n`);
    // By name, not instanceof: an executor loaded through jiti may get its own copy of the bgtask classes.
    const named = (name: string) => (thrown as Error | null)?.name === name;
    const delayMs = (thrown as { delayMs?: unknown } | null)?.delayMs;
    return {
      kind: "failed",
      error: record,
      message: aborted === AbortReason.timeout ? record.message : message,
      unrecoverable: named("UnrecoverableError"),
      retryAfterMs: named("RetryAfter") && typeof delayMs === "number" && delayMs >= 0 ? delayMs : null,
    };
  } finally {
    // An unchanged state is not worth a journal write: for short tasks it would be one more
    // transaction per task than claim and settle (measured by `npm run bench`).
    if (JSON.stringify(api.state) !== JSON.stringify(parts.task.state)) reporter.schedule({ state: api.state });
  }
}
