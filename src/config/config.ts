// Where things live and how bgtask behaves: flags, then BGTASK_* variables, then
// bgtask.config.json, then defaults. The config file is validated here, at the edge.
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as v from "valibot";
import { configFileProblem, configFileSchema, configShapeProblem, EXPECTS, type ConfigFile } from "./config-file.ts";
import { UsageError } from "../errors.ts";
import { isFolderLocation } from "../journal/open.ts";
import { tryParseDuration } from "../core/duration.ts";
import { normaliseRetry, parseRetryFlag, RetryPolicyError, type RetryInput } from "../core/retry-policy.ts";
import { ON_TIME_MS, type Schedule } from "../core/schedule.ts";
import type { TickScope } from "../core/recovery.ts";
import type { Isolation, RetryPolicy, TaskStatus } from "../core/task.ts";

export type { Isolation };
import { checkSchedules } from "./schedules.ts";

export const CONFIG_FILE = "bgtask.config.json";

export interface LocationFlags {
  root?: string;
  tasks?: string;
  home?: string;
  journal?: string;
  /** The config file, instead of <root>/bgtask.config.json. */
  config?: string;
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
  /** What every worker imports before anything else (`--import`): a file URL, or a package name; null: nothing. */
  preload: string | null;
  /** A command (argument list) per final status, run by the worker that recorded it. */
  hooks: Partial<Record<TaskStatus, string[]>>;
  /** Settings per executor from the config file, over the definitions' (`executors`). */
  executors: Readonly<Record<string, ExecutorConfig>>;
  /** Timings, overridable through the environment so tests can make them small. */
  timings: Timings;
  /** The token a scraper of `/metrics` must send, or the file it is in; null: none, so `/metrics` serves the loopback alone. */
  metricsToken: MetricsToken | null;
}

/** A token as given (the config's `metrics.token`, BGTASK_METRICS_TOKEN), or the file holding it, read when `/metrics` starts. */
export type MetricsToken = { value: string } | { file: string };

/** The shortest token accepted: a guessable one would make the token no lock at all. */
export const MIN_TOKEN_LENGTH = 16;

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
  isolation?: Isolation;
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

/** The first location given: a flag or variable left empty names nothing (as `BGTASK_HOME= bgtask …` unsets it). */
function named(...values: Array<string | undefined>): string | undefined {
  return values.find((value) => value !== undefined && value !== "");
}

/**
 * The root: --root or BGTASK_ROOT, else found from cwd. Outside any project, and with no home or
 * journal named either, there is no journal to speak of: saying "no tasks" would hide the mistake.
 */
function rootOf(flags: LocationFlags, env: NodeJS.ProcessEnv, cwd: string): string {
  const rootFlag = named(flags.root, env.BGTASK_ROOT);
  if (rootFlag) return resolve(cwd, rootFlag);
  const found = findRoot(cwd);
  if (found !== null) return found;
  if (named(flags.home, env.BGTASK_HOME, flags.journal, env.BGTASK_JOURNAL)) return resolve(cwd);
  throw new UsageError(
    `no bgtask project here: none of ${ROOT_MARKERS.join(", ")} is in ${resolve(cwd)} or a folder above it; run bgtask inside your project, or name it with --root DIR`,
    { code: "ENOPROJECT" },
  );
}

/**
 * The file's settings, checked; `schedules` as written, checked by loadConfig once the tasks
 * directory is known. The root's bgtask.config.json may be absent; a file named by --config or
 * BGTASK_CONFIG must be there.
 */
function readConfigFile(root: string, named: string | undefined): ConfigFile {
  const path = named === undefined ? join(root, CONFIG_FILE) : named;
  if (!existsSync(path)) {
    if (named === undefined) return {};
    throw new UsageError(`the config file ${path} does not exist (named by --config or BGTASK_CONFIG)`, { code: "ENOCONFIG" });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  // Before the schema: valibot's object schemas take an array for an object with no keys.
  const shapeProblem = configShapeProblem(path, parsed);
  if (shapeProblem !== null) throw new UsageError(shapeProblem);
  const { schedules, ...rest } = parsed as Record<string, unknown>;
  const result = v.safeParse(configFileSchema, rest);
  if (!result.success) throw new UsageError(configFileProblem(path, rest, result.issues));
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
  return isFolderLocation(location) ? at(location) : location;
}

/**
 * The config file's per-deployment settings as BGTASK_* variables, one for each key
 * (BGTASK_TIMEOUT for `timeout`), over the file's: the same values, checked the same way.
 * BGTASK_RETRY (see retryOf) takes the file's forms and `--retry`'s, 3x1s,5x5s.
 */
const ENV_SETTINGS = {
  BGTASK_CONCURRENCY: "concurrency",
  BGTASK_WORKERS: "workers",
  BGTASK_WORKER: "worker",
  BGTASK_TICK_SCOPE: "tickScope",
  BGTASK_TIMEOUT: "timeout",
  BGTASK_RETENTION: "retention",
  BGTASK_PRELOAD: "preload",
} as const satisfies Record<string, keyof ConfigFile>;

/** A variable's text as the JSON value the file would hold: a number, true or false; else the text itself ("10m", "3x1s", "host"). */
function envValue(text: string): unknown {
  if (/^(\d+|true|false|\{.*\}|\[.*\])$/s.test(text.trim())) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function envSettings(env: NodeJS.ProcessEnv): Partial<ConfigFile> {
  const settings: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_SETTINGS)) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    const value = envValue(text);
    const checked = v.safeParse(configFileSchema.entries[key], value);
    const duration = key === "timeout" || key === "retention" ? tryParseDuration(value as string | number) : 0;
    if (!checked.success || duration === undefined) throw new UsageError(`${name} must be ${EXPECTS[key]}, not ${JSON.stringify(text)}`);
    settings[key] = checked.output;
  }
  return settings as Partial<ConfigFile>;
}

function retryOf(text: string | undefined, inFile: unknown, configFile: string): RetryPolicy | null {
  const source = text ? "BGTASK_RETRY" : configFile;
  try {
    if (text) return /^\s*[[{]|^\s*\d+\s*$/.test(text) ? normaliseRetry(JSON.parse(text) as RetryInput) : parseRetryFlag(text);
    return inFile === undefined ? null : normaliseRetry(inFile as RetryInput);
  } catch (error) {
    if (error instanceof RetryPolicyError) throw new UsageError(`${source}: ${error.message}`);
    if (error instanceof SyntaxError)
      throw new UsageError(`BGTASK_RETRY must be ${EXPECTS.retry} (JSON, as in ${CONFIG_FILE}) or tiers like 3x1s,5x5s, not ${JSON.stringify(text)}`);
    throw error;
  }
}

/**
 * The `preload` module as `node --import` takes it: a path (./otel.mjs, /abs/otel.mjs) from the
 * project root, which must exist, as a file URL; a package name as it is (resolved from the root,
 * the workers' working folder).
 */
function preloadOf(preload: string | undefined, root: string, configFile: string, fromEnv: string | undefined): string | null {
  if (preload === undefined) return null;
  if (!/^(\.{1,2}[\\/]|[\\/])/.test(preload)) return preload;
  const path = resolve(root, preload);
  if (!existsSync(path)) throw new UsageError(`${fromEnv ? "BGTASK_PRELOAD" : `${configFile}: \`preload\``} names ${path}, which does not exist`);
  return pathToFileURL(path).href;
}

/** BGTASK_METRICS_TOKEN, over the file's `metrics` (a token or a token file, relative to the root). */
function metricsTokenOf(metrics: ConfigFile["metrics"], env: NodeJS.ProcessEnv, at: (path: string) => string, configFile: string): MetricsToken | null {
  const fromEnv = env.BGTASK_METRICS_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (fromEnv.length < MIN_TOKEN_LENGTH)
      throw new UsageError(`BGTASK_METRICS_TOKEN must be ${MIN_TOKEN_LENGTH} characters or more (\`openssl rand -hex 16\` makes one)`);
    return { value: fromEnv };
  }
  if (metrics?.token !== undefined && metrics.tokenFile !== undefined)
    throw new UsageError(`${configFile}: \`metrics\` takes a token or a tokenFile, not both`);
  if (metrics?.token !== undefined) return { value: metrics.token };
  return metrics?.tokenFile === undefined ? null : { file: at(metrics.tokenFile) };
}

export function loadConfig(flags: LocationFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const root = rootOf(flags, env, cwd);
  const configPath = named(flags.config, env.BGTASK_CONFIG);
  const configFile = configPath === undefined ? join(root, CONFIG_FILE) : resolve(cwd, configPath);
  const file = { ...readConfigFile(root, configPath === undefined ? undefined : configFile), ...envSettings(env) };
  const at = (p: string) => (isAbsolute(p) ? p : resolve(root, p));
  const home = at(named(flags.home, env.BGTASK_HOME) ?? file.home ?? ".bgtask");
  const retry = retryOf(env.BGTASK_RETRY, file.retry, configFile);
  const tasksDir = at(named(flags.tasks, env.BGTASK_TASKS) ?? file.tasksDir ?? "tasks");
  const concurrency = file.concurrency ?? availableParallelism();
  return {
    root,
    tasksDir,
    home,
    journal: journalLocation(named(flags.journal, env.BGTASK_JOURNAL) ?? file.journal, home, at),
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
    preload: preloadOf(file.preload, root, configFile, env.BGTASK_PRELOAD),
    hooks: file.hooks ?? {},
    executors: file.executors ?? {},
    timings: withFileTimings(loadTimings(env), env, file),
    metricsToken: metricsTokenOf(file.metrics, env, at, configFile),
  };
}
