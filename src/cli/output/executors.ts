// The view of `bgtask executors`: one row per module, with the settings its tasks get or why it cannot be used.
import { relative } from "node:path";
import type { ExecutorEntry, ExecutorSettingsEntry, SettingSource } from "../../client/executors.ts";
import { CONFIG_FILE, type Config } from "../../config/config.ts";
import { formatDuration } from "../../core/duration.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";
import { table } from "./text.ts";

function describeSettings(settings: ExecutorSettingsEntry): string {
  const fromConfig = (source: SettingSource) => (source === "config" ? ` (${CONFIG_FILE})` : "");
  return [
    settings.serial === true ? "serial" : settings.serial === "by key" ? "serial by key" : "",
    `${settings.maxTries === 1 ? "1 try" : `tries ${settings.maxTries}`}${fromConfig(settings.from.retry)}`,
    settings.timeoutMs === null ? "no timeout" : `timeout ${formatDuration(settings.timeoutMs)}${fromConfig(settings.from.timeout)}`,
    settings.priority === 0 ? "" : `priority ${settings.priority}${fromConfig(settings.from.priority)}`,
    settings.concurrency === null ? "" : `concurrency ${settings.concurrency}${fromConfig(settings.from.concurrency)}`,
    settings.steps ? `steps ${settings.steps.map(sanitizeInline).join(" → ")}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

export function renderExecutors(entries: readonly ExecutorEntry[], config: Config): string {
  if (entries.length === 0) return `no executors in ${config.tasksDir}: add a module like tasks/hello.ts exporting defineTask({ run })`;
  return table(
    ["EXECUTOR", "FILE", "SETTINGS"],
    entries.map((e) => [
      sanitizeInline(e.name),
      sanitizeInline(relative(config.root, e.file)),
      e.ok ? describeSettings(e.settings!) : chalk.red(sanitizeInline(e.error!)),
    ]),
  );
}
