// The run plan: what `run` stores, from its options as the caller gives them (the CLI's flags, as
// text, or a JavaScript caller's values), checked once for both with the option named as that
// caller spells it; then, once the executor's settings are loaded, the tasks it stores, with each
// setting taken from the plan, the executor or the config. enqueue.ts does the I/O around it.
import type { Config } from "../config/config.ts";
import { queueSettings, taskDefaults } from "../config/task-defaults.ts";
import { parseClockTime } from "../core/clock-time.ts";
import type { TaskContext } from "../core/context.ts";
import { parseDurationOption } from "../core/duration.ts";
import { normaliseRetry, parseRetryFlag, type RetryInput, RetryPolicyError } from "../core/retry-policy.ts";
import { HOST_NAME_PATTERN, type NewTask, type RetryPolicy } from "../core/task.ts";
import { UsageError } from "../errors.ts";
import type { ExecutorSettings } from "../executor/settings-cache.ts";
import { checkTaskId } from "./session.ts";

/** The options of `run` as given: flags are text; JavaScript callers may give numbers, Dates and retry objects. */
export interface RunOptions {
  /** Run after this long: "10m", or milliseconds. */
  delay?: string | number;
  /** Run at this time: text like 2026-12-01T08:00, or a Date. */
  at?: Date | string;
  retry?: string | RetryInput;
  /** False: only store the tasks. */
  worker?: boolean;
  priority?: string | number;
  key?: string;
  replace?: boolean;
  /** Ids, as a list or comma-separated. */
  after?: string | readonly string[];
  /** A host name, as `hostname` prints it on that host. */
  on?: string;
}

/** How the caller's messages name an option: "flag" as `--delay` (the CLI), "field" as `delay` (the client). */
export type OptionSpelling = "flag" | "field";

export interface RunPlan {
  /** When a task stored at `now` is due; null: at once. */
  runAt(now: Date): Date | null;
  /** Overrides the executor's and the config's retry policy; null leaves them. */
  retry: RetryPolicy | null;
  /** False: only store the tasks, for a tick or a running worker to take. */
  worker: boolean;
  /** Overrides the config's and the executor's priority; null leaves them. */
  priority: number | null;
  /** A dedupe key for every task (`run --key`), and whether it replaces a waiting task's context and run time. */
  key: string | null;
  replace: boolean;
  /** Ids of tasks that must succeed first (`run --after`). */
  after: readonly string[];
  /** Only a worker on this host claims the tasks (`run --on`); null: any host's. */
  pinnedHost: string | null;
}

const MAX_KEY_LENGTH = 256;

function runAtOf(options: RunOptions, spelling: OptionSpelling, named: (option: string) => string): RunPlan["runAt"] {
  if (options.delay !== undefined && options.at !== undefined) throw new UsageError(`use ${named("delay")} or ${named("at")}, not both`);
  if (options.delay !== undefined) {
    const delay = parseDurationOption(named("delay"), options.delay);
    return (now) => new Date(now.getTime() + delay);
  }
  if (options.at !== undefined) {
    const given = options.at;
    const at = given instanceof Date ? given.getTime() : typeof given === "string" ? parseClockTime(given) : undefined;
    if (at === undefined || Number.isNaN(at)) {
      throw new UsageError(
        spelling === "flag"
          ? `--at "${String(given)}" is not a date and time that exists, like 2026-12-01T08:00 (local) or 2026-12-01T08:00:00Z`
          : `at ${String(given)} is not a date and time that exists, like 2026-12-01T08:00 (local) or a Date`,
      );
    }
    return () => new Date(at);
  }
  return () => null;
}

function retryOf(retry: RunOptions["retry"], named: (option: string) => string): RetryPolicy | null {
  if (retry === undefined) return null;
  try {
    return typeof retry === "string" ? parseRetryFlag(retry) : normaliseRetry(retry);
  } catch (error) {
    if (error instanceof RetryPolicyError) throw new UsageError(`${named("retry")}: ${error.message}`);
    throw error;
  }
}

function priorityOf(value: RunOptions["priority"], named: (option: string) => string): number | null {
  if (value === undefined) return null;
  const priority = typeof value === "number" ? value : /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(priority) || priority < 0) {
    throw new UsageError(`${named("priority")} ${String(value)} is not a whole number of 0 or more (higher runs first; the default is 0)`);
  }
  return priority;
}

/** Checks every option of `run`; nothing is read or stored yet. */
export function runPlan(options: RunOptions, spelling: OptionSpelling): RunPlan {
  const named = (option: string) => (spelling === "flag" ? `--${option}` : option);
  const runAt = runAtOf(options, spelling, named);
  const retry = retryOf(options.retry, named);
  const priority = priorityOf(options.priority, named);
  const { key } = options;
  if (key !== undefined && (typeof key !== "string" || key === "" || key.length > MAX_KEY_LENGTH)) {
    throw new UsageError(`${named("key")} must be text of 1 to ${MAX_KEY_LENGTH} characters, like nightly-report`);
  }
  if (options.replace && key === undefined)
    throw new UsageError(`${named("replace")} goes with ${named("key")}: it replaces the waiting task that has the key`);
  const ids = options.after === undefined ? [] : typeof options.after === "string" ? options.after.split(",").map((id) => id.trim()) : options.after;
  if (options.after !== undefined && ids.length === 0) throw new UsageError(`${named("after")} needs the ids of tasks, like 12,14`);
  const { on } = options;
  if (on !== undefined && (typeof on !== "string" || !HOST_NAME_PATTERN.test(on))) {
    throw new UsageError(
      `${named("on")} ${JSON.stringify(on)} is not a host name: letters, digits, - and _ in dot-separated parts, as \`hostname\` prints it on that host, like build-01`,
    );
  }
  return {
    runAt,
    retry,
    worker: options.worker !== false,
    priority,
    key: key ?? null,
    replace: options.replace === true,
    after: [...new Set(ids.map(checkTaskId))],
    pinnedHost: on ?? null,
  };
}

/**
 * The tasks to store, one per context, due at `dueAt` (the plan's runAt from when they are
 * stored): each setting the plan's, else as the executor and the config decide it (config/task-defaults.ts).
 */
export function plannedTasks(
  plan: RunPlan,
  executor: { name: string; settings: ExecutorSettings },
  config: Config,
  contexts: readonly TaskContext[],
  dueAt: Date | null,
): NewTask[] {
  const { settings } = executor;
  const defaults = taskDefaults(settings, config);
  const queue = queueSettings(settings, config.executors[executor.name]);
  return contexts.map((context) => ({
    executor: executor.name,
    context,
    serialKey: settings.serialKeyOf(context),
    retry: plan.retry ?? defaults.retry,
    timeoutMs: defaults.timeoutMs,
    runAt: dueAt,
    priority: plan.priority ?? queue.priority,
    key: plan.key,
    replace: plan.replace,
    after: plan.after,
    concurrency: queue.concurrency,
    pinnedHost: plan.pinnedHost,
  }));
}
