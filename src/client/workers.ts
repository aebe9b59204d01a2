// The workers there are, for `bgtask workers`, `stats` and the dashboard: the store's slots, each
// with the tasks its process runs and its last sign of life. Whether a process lives and when its
// beat file was renewed are facts only its own host has: on another host they are unknown, and
// the task's heartbeat in the journal is what is known.
import type { WorkerRef } from "../core/task.ts";
import { lastBeat } from "../host/beat.ts";
import { liveness } from "../host/process-identity.ts";
import type { WorkerInfo } from "./types.ts";
import type { Session } from "./session.ts";

export const isSameProcess = (a: WorkerRef, b: WorkerRef): boolean => a.pid === b.pid && a.host === b.host && a.startTime === b.startTime;

/** Every worker slot, on every host, with what its process does; a dead one is shown, not hidden, until recovery frees it. */
export async function listWorkers(session: Session): Promise<WorkerInfo[]> {
  const [slots, running] = await Promise.all([session.store.workerSlots(), session.store.list({ statuses: ["running"] })]);
  const beatOf = lastBeat(session.config.home);
  // Heartbeats in the journal are on its clock, beat files on this host's: shown on this host's.
  const { offsetMs } = await session.store.clock();
  return slots.map((slot): WorkerInfo => {
    const process = slot.process;
    const tries = process ? running.filter((t) => t.worker !== null && isSameProcess(t.worker, process)) : [];
    const task = tries[0];
    const beats = [process ? beatOf(process) : null, task?.heartbeatAt ? Date.parse(task.heartbeatAt) - offsetMs : null].filter(
      (at): at is number => at !== null,
    );
    return {
      slot: slot.slot,
      host: slot.host ?? process?.host ?? null,
      pid: process?.pid ?? null,
      state: process ? liveness(process) : "starting",
      reservedAt: slot.reservedAt,
      task: task ? { id: task.id, executor: task.executor, progress: task.progress, message: task.message } : null,
      running: tries.length,
      lastHeartbeatAt: beats.length > 0 ? new Date(Math.max(...beats)).toISOString() : null,
    };
  });
}
