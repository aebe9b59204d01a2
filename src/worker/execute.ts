// Runs one claimed try of a task in this process and says how it ended. Output goes to the task
// log, reports go through the Reporter, and nothing thrown by the executor escapes.
import type { TaskRecord } from "../core/task.ts";
import { timedOutMessage, type TryOutcome } from "../core/transitions.ts";
import type { StepDefinition, TaskApi } from "../executor/definition.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import { AbortReason } from "./abort-reasons.ts";
import { captureOutput } from "./output-capture.ts";
import type { Reporter } from "./reporter.ts";
import { createTaskApi } from "./task-api.ts";
import { toTaskError } from "./task-error.ts";
import type { TaskLog } from "./task-log.ts";

export interface ExecuteParts {
  task: TaskRecord;
  executor: LoadedExecutor;
  home: string;
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

async function runSteps(parts: ExecuteParts, api: TaskApi, ownProgress: () => boolean): Promise<"done" | "pause"> {
  const steps = parts.executor.definition.steps as StepDefinition[];
  const start = parts.task.step ?? { index: 0, name: steps[0]!.name, count: steps.length };
  let initialized = parts.task.step !== null && (parts.task.step as { initialized?: boolean }).initialized === true;
  for (let index = start.index; index < steps.length; index++) {
    const step = steps[index]!;
    const position = { index, name: step.name, count: steps.length, initialized };
    parts.reporter.schedule({ step: position, ...(ownProgress() ? {} : { progress: Math.floor((index / steps.length) * 100) }) });
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
          parts.reporter.schedule({ state: api.state });
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
      step: next ? { index: index + 1, name: next.name, count: steps.length, initialized: false } : position,
    });
    await parts.reporter.flush();
  }
  return "done";
}

export async function executeTry(parts: ExecuteParts): Promise<TryOutcome> {
  const { executor, reporter, log } = parts;
  const definition = executor.definition;
  let reportedProgress = false;
  const api = createTaskApi({ ...parts, onOwnProgress: () => (reportedProgress = true) });
  const restore = captureOutput(log);
  try {
    if (definition.steps) {
      const ended = await runSteps(parts, api, () => reportedProgress);
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
    log.write("bgtask", `try ${parts.task.tries} failed: ${record.stack ?? record.message}\n`);
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
    restore();
    // An unchanged state is not worth a journal write: for short tasks it would be one more
    // transaction per task than claim and settle (measured by `npm run bench`).
    if (JSON.stringify(api.state) !== JSON.stringify(parts.task.state)) reporter.schedule({ state: api.state });
  }
}
