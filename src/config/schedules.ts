// The `schedules` of bgtask.config.json, checked entry by entry, each problem one sentence naming
// the entry: every command loads the config, so a bad schedule stops them all before any write.
import { validateContext } from "../core/context.ts";
import { tryParseDuration } from "../core/duration.ts";
import { cronProblem, type Schedule } from "../core/schedule.ts";
import { UsageError } from "../errors.ts";
import { resolveExecutor } from "../executor/discover.ts";

const KEYS = ["name", "cron", "executor", "context", "timezone", "catchUp"];

function isTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkEntry(entry: unknown, index: number, file: string, tasksDir: string): Schedule {
  const fields = typeof entry === "object" && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : null;
  const named = typeof fields?.name === "string" && fields.name !== "" ? `schedule "${fields.name}"` : `schedule ${index + 1}`;
  const fail = (problem: string) => new UsageError(`${named} in ${file}: ${problem}`);
  if (!fields) throw fail(`must be an object like {"name": "nightly", "cron": "0 3 * * *", "executor": "report"}`);
  const unknown = Object.keys(fields).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) throw fail(`unknown key \`${unknown}\`; known keys: ${KEYS.join(", ")}`);
  if (typeof fields.name !== "string" || fields.name === "") throw fail("`name` must be a non-empty string");
  if (typeof fields.executor !== "string") throw fail("`executor` must name an executor in the tasks directory, like report");
  if (fields.timezone !== undefined && (typeof fields.timezone !== "string" || !isTimezone(fields.timezone))) {
    throw fail(`\`timezone\` ${JSON.stringify(fields.timezone)} is not an IANA time zone like "Europe/Berlin"`);
  }
  const timezone = (fields.timezone as string | undefined) ?? null;
  if (typeof fields.cron !== "string") throw fail('`cron` must be a cron expression like "0 3 * * *"');
  const problem = cronProblem(fields.cron, timezone);
  if (problem !== null) throw fail(`\`cron\` ${problem}`);
  let catchUpMs: number | null = null;
  if (fields.catchUp !== undefined) {
    const parsed = typeof fields.catchUp === "string" || typeof fields.catchUp === "number" ? tryParseDuration(fields.catchUp) : undefined;
    if (parsed === undefined) throw fail(`\`catchUp\` ${JSON.stringify(fields.catchUp)} is not a duration like "1h" or "30m"`);
    catchUpMs = parsed;
  }
  try {
    resolveExecutor(tasksDir, fields.executor);
  } catch (error) {
    throw fail((error as Error).message);
  }
  let context: Record<string, unknown> = {};
  if (fields.context !== undefined) {
    try {
      context = validateContext(fields.context, "`context`");
    } catch (error) {
      throw fail((error as Error).message);
    }
  }
  return { name: fields.name, cron: fields.cron.trim(), timezone, executor: fields.executor, context, catchUpMs };
}

/** The schedules `raw` (the config's `schedules` value) holds, checked; `file` names the config in messages. */
export function checkSchedules(raw: unknown, file: string, tasksDir: string): Schedule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new UsageError(`${file}: \`schedules\` must be a list of schedules like [{"name": "nightly", "cron": "0 3 * * *", "executor": "report"}]`);
  const schedules = raw.map((entry, i) => checkEntry(entry, i, file, tasksDir));
  const seen = new Set<string>();
  for (const schedule of schedules) {
    if (seen.has(schedule.name)) throw new UsageError(`schedule "${schedule.name}" in ${file}: the name is used by another schedule; give each its own`);
    seen.add(schedule.name);
  }
  return schedules;
}
