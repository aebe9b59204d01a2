// What the tasks directory holds: every executor, loaded to check it, with the settings its tasks
// get, and the reason for each module that cannot be used.
import { existsSync } from "node:fs";
import { CONFIG_FILE, type Config } from "../config/config.ts";
import { queueSettings, taskDefaults, type SettingSource } from "../config/task-defaults.ts";
import { maxTriesOf } from "../core/retry-policy.ts";
import { UsageError } from "../errors.ts";
import { discoverExecutors } from "../executor/discover.ts";
import { loadExecutor, type LoadedExecutor } from "../executor/load.ts";
import { ensurePrivateDir } from "../host/home.ts";

export type { SettingSource };

export interface ExecutorSettingsEntry {
  serial: boolean | "by key";
  /** Tries a task gets in all (1: no retries). */
  maxTries: number;
  timeoutMs: number | null;
  priority: number;
  /** At most this many of its tasks run at once; null: no limit. */
  concurrency: number | null;
  /** Whether the executor, the config or neither set each setting. */
  from: { retry: SettingSource; timeout: SettingSource; priority: SettingSource; concurrency: SettingSource };
  steps: string[] | null;
}

export interface ExecutorEntry {
  name: string;
  file: string;
  ok: boolean;
  error: string | null;
  settings: ExecutorSettingsEntry | null;
}

function settingsOf(loaded: LoadedExecutor, config: Config): ExecutorSettingsEntry {
  const d = loaded.definition;
  const applied = taskDefaults(loaded, config);
  const queue = queueSettings(loaded, config.executors[loaded.name]);
  return {
    serial: typeof d.serialKey === "function" ? "by key" : d.serial === true,
    maxTries: maxTriesOf(applied.retry),
    timeoutMs: applied.timeoutMs,
    priority: queue.priority,
    concurrency: queue.concurrency,
    from: { retry: applied.retryFrom, timeout: applied.timeoutFrom, priority: queue.priorityFrom, concurrency: queue.concurrencyFrom },
    steps: d.steps ? d.steps.map((s) => s.name) : null,
  };
}

export async function describeExecutors(config: Config): Promise<ExecutorEntry[]> {
  if (!existsSync(config.tasksDir)) {
    throw new UsageError(
      `the tasks directory ${config.tasksDir} does not exist: create it with an executor (like tasks/hello.ts), or point --tasks or "tasksDir" in ${CONFIG_FILE} at yours`,
      { code: "ENOTASKSDIR" },
    );
  }
  const discovery = discoverExecutors(config.tasksDir);
  // Loading a TypeScript executor caches it in the home: only in one that exists and passes the checks.
  const home = existsSync(config.home) ? config.home : null;
  if (home !== null) ensurePrivateDir(home);
  const entries: ExecutorEntry[] = [];
  for (const found of discovery.found) {
    try {
      entries.push({ ...found, ok: true, error: null, settings: settingsOf(await loadExecutor(found, home), config) });
    } catch (error) {
      entries.push({ ...found, ok: false, error: (error as Error).message, settings: null });
    }
  }
  for (const refused of discovery.refused) {
    entries.push({ name: refused.name, file: refused.file, ok: false, error: `refused: ${refused.reason}`, settings: null });
  }
  return entries;
}
