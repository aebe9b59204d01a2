// What the last tick knew about its budget, kept in <home>/tick-budget.json: in a cron-only project
// ("worker": false) a task whose timeout is longer than the ticks' budget is never started, and
// `status` says why; the tick says it once on stderr (cron mails it), not every minute.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatDuration } from "../core/duration.ts";
import type { TaskRecord } from "../core/task.ts";
import { uniqueName } from "../host/unique-name.ts";

export interface TickBudget {
  budgetMs: number;
  /** Ids of tasks the ticks already said they do not start. */
  told: string[];
}

const FILE = "tick-budget.json";

export function readTickBudget(home: string): TickBudget | null {
  try {
    const parsed = JSON.parse(readFileSync(join(home, FILE), "utf8")) as Partial<TickBudget>;
    if (typeof parsed.budgetMs !== "number" || !Array.isArray(parsed.told)) return null;
    return { budgetMs: parsed.budgetMs, told: parsed.told.filter((id): id is string => typeof id === "string") };
  } catch {
    return null; // no tick yet, or torn: only a note is lost
  }
}

export function writeTickBudget(home: string, budget: TickBudget): void {
  const path = join(home, FILE);
  const temp = `${path}.${uniqueName()}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(budget), { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch {
    // Best effort (a full disk): the next tick says it again.
    try {
      unlinkSync(temp);
    } catch {
      // never made, or renamed already
    }
  }
}

/** A task that waits and whose timeout no tick of this budget can hold. */
export function outlastsTicks(task: TaskRecord, budgetMs: number): boolean {
  return (task.status === "queued" || task.status === "scheduled" || task.status === "paused") && task.timeoutMs !== null && task.timeoutMs > budgetMs;
}

/** Why ticks do not start `task`, in a cron-only project. */
export function outlastsTicksReason(task: Pick<TaskRecord, "timeoutMs">, budgetMs: number): string {
  const timeout = formatDuration(task.timeoutMs!);
  return `its timeout (${timeout}) is longer than the ticks' budget (--max-time ${formatDuration(budgetMs)}) and workers are off ("worker": false), so no tick starts it; raise --max-time above ${timeout}, shorten its timeout, or allow workers`;
}
