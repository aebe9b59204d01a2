// Which retry policy and timeout a task gets: the executor's own, else the config's default, else
// none. The one rule behind `run` (what a task is stored with) and `executors` (what it shows).
import { NO_RETRY } from "../core/retry-policy.ts";
import type { RetryPolicy } from "../core/task.ts";

/** Where a setting came from: the executor's definition, bgtask.config.json, or neither. */
export type SettingSource = "executor" | "config" | "none";

interface Settings {
  retry: RetryPolicy | null;
  timeoutMs: number | null;
}

export interface TaskDefaults {
  retry: RetryPolicy;
  retryFrom: SettingSource;
  timeoutMs: number | null;
  timeoutFrom: SettingSource;
}

function sourceOf(own: unknown, config: unknown): SettingSource {
  return own !== null ? "executor" : config !== null ? "config" : "none";
}

export function taskDefaults(executor: Settings, config: Settings): TaskDefaults {
  return {
    retry: executor.retry ?? config.retry ?? NO_RETRY,
    retryFrom: sourceOf(executor.retry, config.retry),
    timeoutMs: executor.timeoutMs ?? config.timeoutMs,
    timeoutFrom: sourceOf(executor.timeoutMs, config.timeoutMs),
  };
}
