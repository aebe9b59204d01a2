// Where things live and how bgtask behaves: flags, then BGTASK_* variables, then
// bgtask.config.json, then defaults. The config file is validated here, at the edge.
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import * as v from "valibot";
import { configFileProblem, configFileSchema, type ConfigFile } from "./config-file.ts";
import { UsageError } from "../errors.ts";
import { isUrlLocation } from "../journal/location.ts";
import { tryParseDuration } from "../core/duration.ts";
import { normaliseRetry, RetryPolicyError, type RetryInput } from "../core/retry-policy.ts";
import { ON_TIME_MS, type Schedule } from "../core/schedule.ts";
import type { TickScope } from "../core/recovery.ts";
import type { RetryPolicy, TaskStatus } from "../core/task.ts";
import { checkSchedules } from "./schedules.ts";

export const CONFIG_FILE = "bgtask.config.json";

export interface LocationFlags {
  root?: string;
  tasks?: string;
  home?: string;
  journal?: string;
}

export interface Config {
  root: string;
  tasksDir: string;
  home: string;
  journal: string;
  /** Tasks at once on this host, across its workers. */
  concurrency: number;
  /** Worker processes on this host; each runs `slotsPerWorker` tasks at once. */
  workers: number;
  /** A worker that ran this many tries takes no more, and is replaced (null: no limit). */
  maxTasksPerWorker: number | null;
  /** A worker whose resident memory passes this many MB takes no more tasks, and is replaced (null: no limit). */
  maxWorkerMemoryMb: number | null;
  /** Start workers from `run` (false: cron-only installations, ticks do the work). */
  worker: boolean;
  /** One tick at a time for the whole journal, or one per host (a PostgreSQL journal's hosts each tick from their own cron). */
  tickScope: TickScope;
  retry: RetryPolicy | null;
  timeoutMs: number | null;
  retentionMs: number | null;
  /** Recurring tasks, checked. */
  schedules: Schedule[];
  /** A command (argument list) per final status, run by the worker that recorded it. */
  hooks: Partial<Record<TaskStatus, string[]>>;
  /** Settings per executor from the config file, over the definitions' (`executors`). */
  executors: Readonly<Record<string, ExecutorConfig>>;
  /** Timings, overridable through the environment so tests can make them small. */
  timings: Timings;
}

/**
 * Worker processes by default: two, so one that is being replaced (recycled, or killed by a try
 * that would not stop) never leaves the host without one, and CPU-bound tries get two cores; the
 * tasks at once are shared between them (most work waits on the network, and one event loop holds
 * hundreds of such tries).
 */
const DEFAULT_WORKERS = 2;

/** Tasks at once in each worker: `concurrency` shared between the workers, rounded up. */
export function slotsPerWorker(config: Pick<Config, "concurrency" | "workers">): number {
  return Math.ceil(config.concurrency / Math.min(config.workers, config.concurrency));
}

export interface ExecutorConfig {
  concurrency?: number;
  priority?: number;
  /** Over the definition's `isolation`. */
  isolation?: "inline" | "process";
}

export interface Timings {
  lockStaleMs: number;
  lockWaitMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  workerIdleMs: number;
  /** Coalescing window of progress reports. */
  reportIntervalMs: number;
  /** How long a cancelled, timed-out or stopped try gets to end by itself before it is forced. */
  cancelGraceMs: number;
  /** A worker stays, sleeping, while a scheduled task (a delay, a retry interval) is due within this. */
  scheduleWindowMs: number;
  /** A schedule's slot fired later than this after its time was missed (see core/schedule.ts). */
  scheduleOnTimeMs: number;
  /** How long a worker retries a journal write that fails for want of disk space before it gives up. */
  diskWaitMs: number;
}

const ROOT_MARKERS = [CONFIG_FILE, "tasks", "package.json"];

/** Nearest ancestor holding bgtask.config.json, else a tasks/ folder, else package.json; null when none does. */
export function findRoot(from: string): string | null {
  for (const marker of ROOT_MARKERS) {
    for (let dir = resolve(from); ; dir = dirname(dir)) {
      if (existsSync(join(dir, marker))) return dir;
      if (dirname(dir) === dir) break;
    }
  }
  return null;
}

/**
 * The root: --root or BGTASK_ROOT, else found from cwd. Outside any project, and with no home or
 * journal named either, there is no journal to speak of: saying "no tasks" would hide the mistake.
 */
function rootOf(flags: LocationFlags, env: NodeJS.ProcessEnv, cwd: string): string {
  const rootFlag = flags.root ?? env.BGTASK_ROOT;
  if (rootFlag) return resolve(cwd, rootFlag);
  const found = findRoot(cwd);
  if (found !== null) return found;
  if (flags.home ?? env.BGTASK_HOME ?? flags.journal ?? env.BGTASK_JOURNAL) return resolve(cwd);
  throw new UsageError(
    `no bgtask project here: none of ${ROOT_MARKERS.join(", ")} is in ${resolve(cwd)} or a folder above it; run bgtask inside your project, or name it with --root DIR`,
    { code: "ENOPROJECT" },
  );
}

/** The file's settings, checked; `schedules` as written, checked by loadConfig once the tasks directory is known. */
function readConfigFile(root: string): ConfigFile {
  const path = join(root, CONFIG_FILE);
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  // valibot's object schemas take an array for an object with no keys: `[]` would pass as `{}`.
  if (Array.isArray(parsed)) throw new UsageError(`${path} must hold a JSON object like {"concurrency": 2}, not an array`);
  const { schedules, ...rest } = parsed as Record<string, unknown>;
  const result = v.safeParse(configFileSchema, rest);
  if (!result.success) throw new UsageError(configFileProblem(path, parsed, result.issues));
  return { ...result.output, schedules: schedules as ConfigFile["schedules"] };
}

function durationSetting(value: string | number | undefined, name: string): number | null {
  if (value === undefined) return null;
  const parsed = tryParseDuration(value);
  if (parsed === undefined) throw new UsageError(`${name} "${value}" is not a duration like "30s", "10m" or "7d"`);
  return parsed;
}

function envDuration(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  return durationSetting(raw, name) ?? fallback;
}

export function loadTimings(env: NodeJS.ProcessEnv): Timings {
  const heartbeatMs = envDuration(env, "BGTASK_HEARTBEAT", 5_000);
  const lockStaleMs = Math.max(2_000, envDuration(env, "BGTASK_LOCK_STALE", 10_000));
  return {
    lockStaleMs,
    lockWaitMs: lockStaleMs + 20_000,
    heartbeatMs,
    heartbeatTimeoutMs: envDuration(env, "BGTASK_HEARTBEAT_TIMEOUT", Math.max(6 * heartbeatMs, 30_000)),
    workerIdleMs: envDuration(env, "BGTASK_IDLE", 2_000),
    reportIntervalMs: envDuration(env, "BGTASK_REPORT_INTERVAL", 250),
    cancelGraceMs: envDuration(env, "BGTASK_GRACE", 5_000),
    scheduleWindowMs: envDuration(env, "BGTASK_SCHEDULE_WINDOW", 15 * 60_000),
    scheduleOnTimeMs: envDuration(env, "BGTASK_SCHEDULE_ON_TIME", ON_TIME_MS),
    diskWaitMs: envDuration(env, "BGTASK_DISK_WAIT", 10 * 60_000),
  };
}

/** The config file's timings apply where no BGTASK_* variable set them. */
function withFileTimings(timings: Timings, env: NodeJS.ProcessEnv, file: ConfigFile): Timings {
  const grace = env.BGTASK_GRACE ? null : durationSetting(file.grace, `${CONFIG_FILE} grace`);
  return grace === null ? timings : { ...timings, cancelGraceMs: grace };
}

/**
 * A journal folder given as a relative path is the project root's, like the home's: the workers
 * `run` starts (in the root) must find the same journal as the command typed in a subfolder.
 */
function journalLocation(location: string | undefined, home: string, at: (path: string) => string): string {
  if (location === undefined) return home;
  return isUrlLocation(location) ? location : at(location);
}

export function loadConfig(flags: LocationFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const root = rootOf(flags, env, cwd);
  const file = readConfigFile(root);
  const at = (p: string) => (isAbsolute(p) ? p : resolve(root, p));
  const home = at(flags.home ?? env.BGTASK_HOME ?? file.home ?? ".bgtask");
  let retry: RetryPolicy | null = null;
  try {
    retry = file.retry === undefined ? null : normaliseRetry(file.retry as RetryInput);
  } catch (error) {
    if (error instanceof RetryPolicyError) throw new UsageError(`${CONFIG_FILE}: ${error.message}`);
    throw error;
  }
  const tasksDir = at(flags.tasks ?? env.BGTASK_TASKS ?? file.tasksDir ?? "tasks");
  const concurrency = file.concurrency ?? availableParallelism();
  return {
    root,
    tasksDir,
    home,
    journal: journalLocation(flags.journal ?? env.BGTASK_JOURNAL ?? file.journal, home, at),
    concurrency,
    workers: file.workers ?? Math.min(concurrency, DEFAULT_WORKERS),
    maxTasksPerWorker: file.maxTasksPerWorker ?? null,
    maxWorkerMemoryMb: file.maxWorkerMemoryMb ?? null,
    worker: file.worker ?? true,
    tickScope: file.tickScope ?? "cluster",
    retry,
    timeoutMs: durationSetting(file.timeout, `${CONFIG_FILE} timeout`),
    retentionMs: durationSetting(file.retention, `${CONFIG_FILE} retention`),
    schedules: checkSchedules(file.schedules, CONFIG_FILE, tasksDir),
    hooks: file.hooks ?? {},
    executors: file.executors ?? {},
    timings: withFileTimings(loadTimings(env), env, file),
  };
}
