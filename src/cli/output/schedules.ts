// The view of `bgtask schedules`: one row per schedule, its last slot fired (and task) and its next.
import type { ScheduleInfo } from "../../client/types.ts";
import { CONFIG_FILE } from "../../config/config.ts";
import { sanitizeInline } from "./sanitize.ts";
import { age, table, until } from "./text.ts";

export function renderSchedules(entries: readonly ScheduleInfo[], now: Date): string {
  if (entries.length === 0) return `no schedules: add them under "schedules" in ${CONFIG_FILE}`;
  return table(
    ["NAME", "CRON", "TIMEZONE", "EXECUTOR", "LAST", "TASK", "NEXT"],
    entries.map((e) => [
      sanitizeInline(e.name),
      sanitizeInline(e.cron),
      sanitizeInline(e.timezone ?? "local"),
      sanitizeInline(e.executor),
      e.last ? `${e.last.slot} (${age(e.last.slot, now)} ago)` : "never",
      e.last?.taskId ?? "-",
      e.nextRunAt ? `${e.nextRunAt} (${until(e.nextRunAt, now)})` : "none",
    ]),
  );
}
