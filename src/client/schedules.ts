// `bgtask schedules`: each schedule of the config with what the journal says it last fired (the
// slot and the task it made) and its next slot.
import { nextSlot, type Schedule } from "../core/schedule.ts";
import type { ScheduleInfo } from "./types.ts";
import type { Session } from "./session.ts";

export async function listSchedules(session: Session, now = new Date()): Promise<ScheduleInfo[]> {
  const states = await session.store.scheduleStates();
  return session.config.schedules.map((schedule: Schedule) => ({
    ...schedule,
    last: states[schedule.name] ?? null,
    nextRunAt: nextSlot(schedule, now)?.toISOString() ?? null,
  }));
}
