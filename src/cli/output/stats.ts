// The views of `bgtask stats` and `bgtask workers`: pure, data → text.
import type { Stats, WorkerInfo } from "../../client/types.ts";
import { formatDuration } from "../../core/duration.ts";
import { TASK_STATUSES } from "../../core/task.ts";
import { sanitizeInline } from "./sanitize.ts";
import { age, colorStatus, table } from "./text.ts";

export function renderStats(stats: Stats): string {
  const statuses = TASK_STATUSES.filter((s) => Object.values(stats.byExecutor).some((row) => row[s] !== undefined));
  const total = Object.values(stats.byStatus).reduce((a, b) => a + b, 0);
  const lines = [
    total === 0 ? "no tasks" : `${total} tasks: ${statuses.map((s) => `${stats.byStatus[s]} ${colorStatus(s)}`).join(", ")}`,
    `oldest queued: ${stats.oldestQueued ? `${formatDuration(stats.oldestQueued.ageMs)} ago` : "none"}`,
    `finished in the last ${stats.throughput.minutes} minutes: ${stats.throughput.perMinute.reduce((a, b) => a + b, 0)} (${stats.throughput.average}/min, last minute ${stats.throughput.perMinute.at(-1) ?? 0})`,
    `live workers: ${stats.liveWorkers}`,
  ];
  if (statuses.length > 0) {
    const rows = Object.entries(stats.byExecutor)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([executor, row]) => [sanitizeInline(executor), ...statuses.map((s) => String(row[s] ?? 0))]);
    lines.push("", table(["EXECUTOR", ...statuses.map((s) => s.toUpperCase())], rows));
  }
  return lines.join("\n");
}

export function renderWorkers(workers: readonly WorkerInfo[], now: Date): string {
  if (workers.length === 0) return "no workers";
  return table(
    ["HOST", "PID", "STATE", "TASK", "LAST HEARTBEAT"],
    workers.map((w) => [
      sanitizeInline(w.host ?? "?"),
      w.pid === null ? "-" : String(w.pid),
      w.state,
      w.task === null
        ? "idle"
        : w.running > 1
          ? `${w.running} tasks (${w.task.id} ${sanitizeInline(w.task.executor)} …)`
          : `${w.task.id} ${sanitizeInline(w.task.executor)} ${w.task.progress}%`,
      w.lastHeartbeatAt ? `${age(w.lastHeartbeatAt, now)} ago` : "-",
    ]),
  );
}
