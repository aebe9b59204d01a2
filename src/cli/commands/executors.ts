// `bgtask executors`: what the tasks directory holds, each executor's settings, and a clear line
// for every module that cannot be used.
import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { LocationFlags } from "../../config/config.ts";
import { loadConfig } from "../../config/config.ts";
import { formatDuration } from "../../core/duration.ts";
import { maxTriesOf } from "../../core/retry-policy.ts";
import { discoverExecutors } from "../../executor/discover.ts";
import { loadExecutor, type LoadedExecutor } from "../../executor/load.ts";
import { ensurePrivateDir } from "../../host/home.ts";
import { chalk } from "../output/paint.ts";
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
    maxTries: number | null;
    timeoutMs: number | null;
    steps: string[] | null;
  } | null;
}

function settingsOf(loaded: LoadedExecutor): ExecutorEntry["settings"] {
  const d = loaded.definition;
  return {
    serial: typeof d.serialKey === "function" ? "by key" : d.serial === true,
    maxTries: loaded.retry ? maxTriesOf(loaded.retry) : null,
    timeoutMs: loaded.timeoutMs,
    steps: d.steps ? d.steps.map((s) => s.name) : null,
  };
}

export async function executors(options: LocationFlags & { json?: boolean }): Promise<void> {
  const config = loadConfig(options);
  const discovery = discoverExecutors(config.tasksDir);
  // Loading a TypeScript executor caches it in the home: only in one that exists and passes the checks.
  const home = existsSync(config.home) ? config.home : null;
  if (home !== null) ensurePrivateDir(home);
  const entries: ExecutorEntry[] = [];
  for (const found of discovery.found) {
    try {
      entries.push({ ...found, ok: true, error: null, settings: settingsOf(await loadExecutor(found, home)) });
    } catch (error) {
      entries.push({ ...found, ok: false, error: (error as Error).message, settings: null });
    }
  }
  for (const refused of discovery.refused) {
    entries.push({ name: relative(config.tasksDir, refused.file), file: refused.file, ok: false, error: `refused: ${refused.reason}`, settings: null });
  }
  if (options.json) {
    printJson({ tasksDir: config.tasksDir, executors: entries });
    return;
  }
  if (entries.length === 0) {
    process.stdout.write(`no executors in ${config.tasksDir}: add a module like tasks/hello.ts exporting defineTask({ run })\n`);
    return;
  }
  process.stdout.write(
    `${table(
      ["EXECUTOR", "FILE", "SETTINGS"],
      entries.map((e) => [
        sanitizeInline(e.name),
        sanitizeInline(relative(config.root, e.file)),
        e.ok
          ? [
              e.settings!.serial === true ? "serial" : e.settings!.serial === "by key" ? "serial by key" : "",
              e.settings!.maxTries !== null ? `tries ${e.settings!.maxTries}` : "",
              e.settings!.timeoutMs !== null ? `timeout ${formatDuration(e.settings!.timeoutMs)}` : "",
              e.settings!.steps ? `steps ${e.settings!.steps.map(sanitizeInline).join(" → ")}` : "",
            ]
              .filter(Boolean)
              .join(", ") || "-"
          : chalk.red(sanitizeInline(e.error!)),
      ]),
    )}\n`,
  );
}
