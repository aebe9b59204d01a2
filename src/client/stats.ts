// The overview of `bgtask stats` and the dashboard: the store's counts (cheap at any size, see
// JournalStore.stats) with the live workers and the throughput worked out.
import { totalByStatus } from "../core/stats.ts";
import type { Session } from "./session.ts";
import type { Stats, WorkerInfo } from "./types.ts";
import { listWorkers } from "./workers.ts";

/** Minutes of throughput the overview shows. */
export const THROUGHPUT_MINUTES = 15;

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
