// The shape of bgtask.config.json: one valibot schema that validates the file, words its errors
// for people, and is turned into the JSON Schema the package ships for editors
// (scripts/config-schema.mjs writes dist/bgtask.config.schema.json from it).
import * as v from "valibot";
import { ISOLATIONS } from "../core/task.ts";

const duration = (description: string) => v.optional(v.pipe(v.union([v.number(), v.string()]), v.description(description)));

export const configFileSchema = v.strictObject({
  $schema: v.optional(v.pipe(v.string(), v.description("Where editors find this file's JSON Schema."))),
  tasksDir: v.optional(v.pipe(v.string(), v.nonEmpty(), v.description("The tasks directory, relative to the project root (default: tasks)."))),
  home: v.optional(v.pipe(v.string(), v.nonEmpty(), v.description("The bgtask home: journal, logs, attachments (default: .bgtask)."))),
  journal: v.optional(
    v.pipe(
      v.string(),
      v.nonEmpty(),
      v.description("Where the journal is: a folder (default: the bgtask home), or a postgres:// URL for a PostgreSQL journal."),
    ),
  ),
  concurrency: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(10_000),
      v.description("How many tasks may run at once on this host, across its workers (default: the number of CPUs)."),
    ),
  ),
  workers: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(256),
      v.description("How many worker processes may run on this host, sharing concurrency between them (default: 2, or concurrency if less)."),
    ),
  ),
  maxTasksPerWorker: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.description("A worker that has run this many tries takes no more, and is replaced once they end (default: no limit)."),
    ),
  ),
  maxWorkerMemoryMb: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(32),
      v.description("A worker whose resident memory passes this many MB takes no more tasks, and is replaced once its tries end (default: no limit)."),
    ),
  ),
  worker: v.optional(v.pipe(v.boolean(), v.description("Whether run and retry start workers (false: only ticks and running workers take tasks)."))),
  tickScope: v.optional(
    v.pipe(
      v.picklist(["cluster", "host"]),
      v.description(
        'How many ticks may run at once on a PostgreSQL journal: "cluster" (default) one for all hosts, "host" one per host. The file journal serves one machine: it changes nothing there.',
      ),
    ),
  ),
  // The shape only: core/retry-policy.ts checks the policy itself, as it does an executor's.
  retry: v.optional(
    v.pipe(
      v.union([v.number(), v.array(v.unknown()), v.looseObject({})]),
      v.description(
        'The default retry policy of executors that set none: 3, { "tries": 3, "interval": "1s" }, a list of such tiers, or { "tries": 8, "backoff": "exponential", "interval": "1s", "maxInterval": "10m" }.',
      ),
    ),
  ),
  timeout: duration('The default timeout of a try, like "10m" (or milliseconds), for executors that set none.'),
  retention: duration('How long finished tasks are kept, like "7d" (or milliseconds).'),
  grace: duration('How long a cancelled or timed-out try gets to stop by itself before it is forced, like "5s" (or milliseconds).'),
  schedules: v.optional(
    v.pipe(
      v.array(
        v.strictObject({
          name: v.pipe(v.string(), v.description("The schedule's name, unique: `bgtask schedules` and the tasks it makes show it.")),
          cron: v.pipe(v.string(), v.description('When it fires: 5 fields (minute hour day month weekday), or 6 with seconds first, like "0 3 * * *".')),
          executor: v.pipe(v.string(), v.description("The executor each slot runs, as `bgtask run` names it.")),
          context: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.description("The context of each task it makes (default: {})."))),
          timezone: v.optional(v.pipe(v.string(), v.description('The IANA time zone the expression is read in, like "Europe/Berlin" (default: the host\'s).'))),
          catchUp: duration('Slots missed by up to this long (workers were down) still run, once each, like "1h"; without it missed slots are skipped.'),
        }),
      ),
      v.description("Recurring tasks: each slot of each schedule fires once, whatever runs at the same time."),
    ),
  ),
  preload: v.optional(
    v.pipe(
      v.string(),
      v.minLength(1),
      v.description(
        "A module every worker imports before anything else, where an OpenTelemetry SDK starts: a path from the project root (./otel.mjs) or a package name.",
      ),
    ),
  ),
  hooks: v.optional(
    v.pipe(
      v.strictObject({
        succeeded: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
        failed: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
        cancelled: v.optional(v.pipe(v.array(v.string()), v.minLength(1))),
      }),
      v.description(
        'A command per final status, as an argument list (no shell), given the final task record as JSON on stdin, like {"failed": ["notify-send", "bgtask"]}.',
      ),
    ),
  ),
  executors: v.optional(
    v.pipe(
      v.record(
        v.string(),
        v.strictObject({
          concurrency: v.optional(
            v.pipe(v.number(), v.integer(), v.minValue(1), v.description("At most this many tasks of this executor run at once, across all workers.")),
          ),
          priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.description("Its tasks' priority (higher is claimed first; default 0)."))),
          isolation: v.optional(
            v.pipe(
              v.picklist(ISOLATIONS),
              v.description(
                'Where its tries run: "inline" in the worker\'s event loop (default), "thread" in a worker thread each, "process" in a child process each.',
              ),
            ),
          ),
        }),
      ),
      v.description('Settings per executor, over its definition\'s: { "resize": { "concurrency": 2, "priority": 1 } }.'),
    ),
  ),
  metrics: v.optional(
    v.pipe(
      v.strictObject({
        token: v.optional(
          v.pipe(v.string(), v.minLength(16), v.description("The token a scraper sends as `Authorization: Bearer <token>`, 16 characters or more.")),
        ),
        tokenFile: v.optional(
          v.pipe(
            v.string(),
            v.nonEmpty(),
            v.description("A file, relative to the project root, whose content (trimmed) is the token: the one Prometheus reads as its credentials_file."),
          ),
        ),
      }),
      v.description(
        "How `/metrics` (of `bgtask metrics` and `bgtask ui`) checks a scraper: a token or a token file, not both. Without one it serves the loopback only.",
      ),
    ),
  ),
});

export type ConfigFile = v.InferOutput<typeof configFileSchema>;

/** What each key must hold, in the words of an error message. */
export const EXPECTS: Record<keyof ConfigFile, string> = {
  $schema: "a string",
  tasksDir: "a path (a non-empty string)",
  home: "a path (a non-empty string)",
  journal: "a folder or a postgres:// URL (a non-empty string)",
  concurrency: "a whole number from 1 to 10000",
  workers: "a whole number from 1 to 256",
  maxTasksPerWorker: "a whole number of 1 or more",
  maxWorkerMemoryMb: "a whole number of megabytes, 32 or more",
  worker: "true or false",
  tickScope: '"cluster" (one tick at a time for all hosts) or "host" (one per host)',
  retry:
    'a retry policy: a number of retries like 3, {"tries": 3, "interval": "1s"}, a list of such tiers, or {"tries": 8, "backoff": "exponential", "interval": "1s"}',
  timeout: 'a duration like "10m", or a number of milliseconds',
  retention: 'a duration like "7d", or a number of milliseconds',
  grace: 'a duration like "5s", or a number of milliseconds',
  schedules: 'a list of schedules like [{"name": "nightly", "cron": "0 3 * * *", "executor": "report"}]',
  preload: "a module: a path like ./otel.mjs or a package name (a non-empty string)",
  hooks: 'an object of commands per final status (succeeded, failed, cancelled), each an argument list like {"failed": ["notify-send", "bgtask"]}',
  executors:
    'an object of settings per executor name, like {"resize": {"concurrency": 2, "priority": 1}} (concurrency: a whole number of 1 or more; priority: a whole number of 0 or more; isolation: "inline", "thread" or "process")',
  metrics: 'an object with a token of 16 characters or more or a token file, like {"tokenFile": "/etc/bgtask/metrics-token"}',
};

export const CONFIG_KEYS = Object.keys(EXPECTS) as Array<keyof ConfigFile>;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** Why `parsed` (what the file at `path` holds) is not a JSON object of settings, or null when it is one. */
export function configShapeProblem(path: string, parsed: unknown): string | null {
  if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return null;
  return `${path} must hold a JSON object like {"concurrency": 2}, not ${Array.isArray(parsed) ? "an array" : shown(parsed)}`;
}

/** Why `parsed` (the object in the file at `path`) is not a config, as one sentence, from the schema's issues with it. */
export function configFileProblem(path: string, parsed: Record<string, unknown>, issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]]): string {
  const key = issues[0].path?.[0]?.key;
  if (typeof key !== "string") return `${path}: ${issues[0].message}`;
  if (!(key in EXPECTS)) return `${path}: unknown key \`${key}\`; known keys: ${CONFIG_KEYS.join(", ")}`;
  // A metrics token is a secret, and an error message may end up in a log.
  const given = key === "metrics" ? "" : `, not ${shown(parsed[key])}`;
  return `${path}: \`${key}\` must be ${EXPECTS[key as keyof ConfigFile]}${given}`;
}
