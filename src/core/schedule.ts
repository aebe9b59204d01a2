// The schedule rules: which cron slots are due given the last one fired, the time now and the
// catch-up window; when the next one is. Pure (croner computes the slots): stores apply these
// inside the transaction that fires a slot, so each slot fires once whoever asks.
import { Cron } from "croner";
import type { NewTask, TaskRecord } from "./task.ts";

/** A schedule from bgtask.config.json, checked (config/schedules.ts). */
export interface Schedule {
  name: string;
  /** 5 fields, or 6 with seconds first. */
  cron: string;
  /** IANA time zone the expression is read in; null: the host's. */
  timezone: string | null;
  executor: string;
  context: Record<string, unknown>;
  /** Slots missed by up to this long are still run, once each; null: missed slots are skipped. */
  catchUpMs: number | null;
}

/** What the journal keeps per schedule: the last slot fired and the task it made. */
export interface ScheduleState {
  slot: string;
  taskId: string;
}

/**
 * By default a slot counts as fired on time up to this long after it: a cron tick every minute,
 * or a worker that was busy with a long try, still fires it. Later than this it was missed
 * (downtime), and only `catchUp` runs it.
 */
export const ON_TIME_MS = 90_000;

/** The most slots one firing creates per schedule; the rest wait for the next (each still once). */
export const MAX_SLOTS_PER_FIRING = 1_000;

const patterns = new Map<string, Cron>();

/** The parsed expression (cached: workers ask on every firing). Throws croner's error for a bad one. */
function pattern(cron: string, timezone: string | null): Cron {
  const key = `${timezone ?? ""}|${cron}`;
  let found = patterns.get(key);
  if (!found) {
    found = new Cron(cron, { paused: true, ...(timezone === null ? {} : { timezone }) });
    patterns.set(key, found);
  }
  return found;
}

/** Why `cron` is not a 5- or 6-field expression, in words, or null when it is one. */
export function cronProblem(cron: string, timezone: string | null): string | null {
  const fields = cron.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6)
    return `"${cron}" has ${fields} field${fields === 1 ? "" : "s"}; write 5 (minute hour day month weekday) or 6 (seconds first)`;
  try {
    pattern(cron, timezone).nextRun(new Date());
    return null;
  } catch (error) {
    return `"${cron}" is not a cron expression: ${(error as Error).message.replace(/^Cron\w*: /, "")}`;
  }
}

/** The first slot strictly after `after`, or null when the expression has none. */
export function nextSlot(schedule: Pick<Schedule, "cron" | "timezone">, after: Date): Date | null {
  return pattern(schedule.cron, schedule.timezone).nextRun(after);
}

/**
 * The slots to fire now, oldest first: those after the last one fired and not later than `now`,
 * and no older than the on-time window, or the catch-up window when that is longer. A schedule
 * never fired before starts now: only its latest slot within the on-time window fires (a worker
 * started for a slot a moment ago still fires it); it has no missed slots to catch up.
 */
export function dueSlots(schedule: Pick<Schedule, "cron" | "timezone" | "catchUpMs">, last: string | null, now: Date, onTimeMs = ON_TIME_MS): Date[] {
  const window = Math.max(onTimeMs, schedule.catchUpMs ?? 0);
  // A slot exactly at the window's edge is in it: start just before.
  let after = new Date(now.getTime() - window - 1);
  if (last !== null && Date.parse(last) > after.getTime()) after = new Date(last);
  const slots: Date[] = [];
  for (let slot = nextSlot(schedule, after); slot !== null && slot.getTime() <= now.getTime(); slot = nextSlot(schedule, slot)) {
    slots.push(slot);
    if (slots.length >= MAX_SLOTS_PER_FIRING) break;
  }
  return last === null ? slots.slice(-1) : slots;
}

/** The earliest next slot after `now` over `schedules` (epoch ms), or null when none has one. */
export function nextSlotOf(schedules: readonly Schedule[], now: Date): number | null {
  let earliest: number | null = null;
  for (const schedule of schedules) {
    const next = nextSlot(schedule, now)?.getTime() ?? null;
    if (next !== null && (earliest === null || next < earliest)) earliest = next;
  }
  return earliest;
}

/** The tasks a firing makes: one per due slot of each schedule (see dueSlots), oldest slot first per schedule. */
export function firedTasks(
  firings: readonly { schedule: Schedule; task: Omit<NewTask, "runAt" | "schedule"> }[],
  states: Readonly<Record<string, ScheduleState>>,
  now: Date,
  onTimeMs: number,
): NewTask[] {
  return firings.flatMap(({ schedule, task }) =>
    dueSlots(schedule, states[schedule.name]?.slot ?? null, now, onTimeMs).map((slot) => ({
      ...task,
      context: structuredClone(task.context),
      runAt: null,
      schedule: { name: schedule.name, slot: slot.toISOString() },
    })),
  );
}

/** The states after `created` were stored: each schedule's last slot and the task it made. */
export function firedStates(states: Readonly<Record<string, ScheduleState>>, created: readonly TaskRecord[]): Record<string, ScheduleState> {
  const next = { ...states };
  for (const task of created) if (task.schedule) next[task.schedule.name] = { slot: task.schedule.slot, taskId: task.id };
  return next;
}
