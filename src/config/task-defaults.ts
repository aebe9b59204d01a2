// Which retry policy and timeout a task gets: the executor's own, else the config's default, else
// none. The one rule behind `run` (what a task is stored with) and `executors` (what it shows).
import { NO_RETRY } from "../core/retry-policy.ts";
import type { RetryPolicy } from "../core/task.ts";
import type { ExecutorConfig } from "./config.ts";

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

export interface QueueSettings {
  priority: number;
  priorityFrom: SettingSource;
  concurrency: number | null;
  concurrencyFrom: SettingSource;
}

/**
 * An executor's priority and concurrency: the config file's entry for it, else its definition's,
 * else priority 0 and no limit. The config wins here (unlike retry and timeout, whose config
 * values are defaults for every executor): it names this executor, so it is the later word.
 */
export function queueSettings(executor: { priority: number | null; concurrency: number | null }, config: ExecutorConfig | undefined): QueueSettings {
  const priority = config?.priority ?? executor.priority;
  const concurrency = config?.concurrency ?? executor.concurrency;
  return {
    priority: priority ?? 0,
    priorityFrom: config?.priority !== undefined ? "config" : executor.priority !== null ? "executor" : "none",
    concurrency: concurrency ?? null,
    concurrencyFrom: config?.concurrency !== undefined ? "config" : executor.concurrency !== null ? "executor" : "none",
  };
}
