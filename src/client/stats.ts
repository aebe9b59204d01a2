// The overview of `bgtask stats` and the dashboard: the store's counts (cheap at any size, see
// JournalStore.stats) with the live workers and the throughput worked out.
import type { ExecutorCounts, StatusCounts } from "../core/stats.ts";
import { totalByStatus } from "../core/stats.ts";
import type { Session } from "./session.ts";
import { listWorkers, type WorkerInfo } from "./workers.ts";

/** Minutes of throughput the overview shows. */
export const THROUGHPUT_MINUTES = 15;

export interface Stats {
  byStatus: StatusCounts;
  byExecutor: ExecutorCounts;
  /** The oldest queued task's creation, and how long ago that was; null when none is queued. */
  oldestQueued: { createdAt: string; ageMs: number } | null;
  throughput: {
    minutes: number;
    /** Tasks that became final in each minute, oldest first; the last is the minute up to now. */
    perMinute: number[];
    /** Their mean per minute over the window. */
    average: number;
  };
  /** Workers whose process is alive, or on another host not known to be dead, or starting. */
  liveWorkers: number;
}

/** `workers`: the caller's listWorkers, when it shows them too (the dashboard), so they are read once. */
export async function readStats(session: Session, now = new Date(), workers?: WorkerInfo[]): Promise<Stats> {
  const [stats, live] = await Promise.all([session.store.stats(now, THROUGHPUT_MINUTES), workers ?? listWorkers(session)]);
  const finished = stats.finishedPerMinute.reduce((a, b) => a + b, 0);
  return {
    byStatus: totalByStatus(stats.counts),
    byExecutor: stats.counts,
    oldestQueued:
      stats.oldestQueuedAt === null ? null : { createdAt: stats.oldestQueuedAt, ageMs: Math.max(0, now.getTime() - Date.parse(stats.oldestQueuedAt)) },
    throughput: { minutes: THROUGHPUT_MINUTES, perMinute: stats.finishedPerMinute, average: Math.round((finished / THROUGHPUT_MINUTES) * 100) / 100 },
    liveWorkers: live.filter((w) => w.state !== "dead").length,
  };
}
