// `bgtask executors`: what the tasks directory holds, the settings each executor's tasks get, and
// a clear line for every module that cannot be used. It exits 1 when one cannot, so a CI job can
// run it as a check.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { CONFIG_FILE, loadConfig, type Config, type LocationFlags } from "../../config/config.ts";
import { taskDefaults, type SettingSource } from "../../config/task-defaults.ts";
import { formatDuration } from "../../core/duration.ts";
import { maxTriesOf } from "../../core/retry-policy.ts";
import { ExitCode, UsageError } from "../../errors.ts";
import { discoverExecutors } from "../../executor/discover.ts";
import { loadExecutor, type LoadedExecutor } from "../../executor/load.ts";
import { ensurePrivateDir } from "../../host/home.ts";
import { chalk } from "../output/paint.ts";
import { loadColumnsFor } from "../output/columns.ts";
import { table } from "../output/render.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { printJson } from "../session.ts";

interface ExecutorEntry {
  name: string;
  file: string;
  ok: boolean;
  error: string | null;
  settings: {
    serial: boolean | "by key";
    /** Tries a task gets in all (1: no retries). */
    maxTries: number;
    timeoutMs: number | null;
    /** Whether the executor, the config or neither set the retry policy and the timeout. */
    from: { retry: SettingSource; timeout: SettingSource };
    steps: string[] | null;
  } | null;
}

function settingsOf(loaded: LoadedExecutor, config: Config): ExecutorEntry["settings"] {
  const d = loaded.definition;
  const applied = taskDefaults(loaded, config);
  return {
    serial: typeof d.serialKey === "function" ? "by key" : d.serial === true,
    maxTries: maxTriesOf(applied.retry),
    timeoutMs: applied.timeoutMs,
    from: { retry: applied.retryFrom, timeout: applied.timeoutFrom },
    steps: d.steps ? d.steps.map((s) => s.name) : null,
  };
}

function describeSettings(settings: NonNullable<ExecutorEntry["settings"]>): string {
  const fromConfig = (source: SettingSource) => (source === "config" ? ` (${CONFIG_FILE})` : "");
  return [
    settings.serial === true ? "serial" : settings.serial === "by key" ? "serial by key" : "",
    `${settings.maxTries === 1 ? "1 try" : `tries ${settings.maxTries}`}${fromConfig(settings.from.retry)}`,
    settings.timeoutMs === null ? "no timeout" : `timeout ${formatDuration(settings.timeoutMs)}${fromConfig(settings.from.timeout)}`,
    settings.steps ? `steps ${settings.steps.map(sanitizeInline).join(" → ")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

export async function executors(options: LocationFlags & { json?: boolean }): Promise<void> {
  const config = loadConfig(options);
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
  await print(entries, config, options.json === true);
  const broken = entries.filter((e) => !e.ok).length;
  if (broken > 0) {
    process.exitCode = ExitCode.problemFound;
    process.stderr.write(`bgtask: ${broken} of ${entries.length} modules in ${sanitizeInline(config.tasksDir)} cannot be used as executors\n`);
  }
}

async function print(entries: ExecutorEntry[], config: Config, json: boolean): Promise<void> {
  if (json) {
    printJson({ tasksDir: config.tasksDir, executors: entries });
    return;
  }
  if (entries.length === 0) {
    process.stdout.write(`no executors in ${config.tasksDir}: add a module like tasks/hello.ts exporting defineTask({ run })\n`);
    return;
  }
  await loadColumnsFor(JSON.stringify(entries), config.root);
  process.stdout.write(
    `${table(
      ["EXECUTOR", "FILE", "SETTINGS"],
      entries.map((e) => [
        sanitizeInline(e.name),
        sanitizeInline(relative(config.root, e.file)),
        e.ok ? describeSettings(e.settings!) : chalk.red(sanitizeInline(e.error!)),
      ]),
    )}\n`,
  );
}
