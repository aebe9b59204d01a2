// `bgtask schedules`: each schedule of the config with what the journal says it last fired (the
// slot and the task it made) and its next slot.
import { nextSlot, type Schedule } from "../core/schedule.ts";
import type { Session } from "./session.ts";

export interface ScheduleEntry {
  name: string;
  cron: string;
  /** null: the host's time zone. */
  timezone: string | null;
  executor: string;
  context: Record<string, unknown>;
  catchUpMs: number | null;
  /** The last slot fired and the task it made; null when none has fired yet. */
  last: { slot: string; taskId: string } | null;
  /** The next slot after now (ISO), or null when the expression has none. */
  nextRunAt: string | null;
}

export async function listSchedules(session: Session, now = new Date()): Promise<ScheduleEntry[]> {
  const states = await session.store.scheduleStates();
  return session.config.schedules.map((schedule: Schedule) => ({
    ...schedule,
    last: states[schedule.name] ?? null,
    nextRunAt: nextSlot(schedule, now)?.toISOString() ?? null,
  }));
}
