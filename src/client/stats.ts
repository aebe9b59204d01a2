// The overview of `bgtask stats` and the dashboard: the store's counts (cheap at any size, see
// JournalStore.stats) with the live workers and the throughput worked out.
import { type ActivityWindow, MINUTE_MS, oldestOfAll, totalByStatus } from "../core/stats.ts";
import type { Session } from "./session.ts";
import type { Stats, WorkerInfo } from "./types.ts";
import { listWorkers } from "./workers.ts";

/** Minutes of throughput the overview shows. */
export const THROUGHPUT_MINUTES = 15;

/** `workers`: the caller's listWorkers, when it shows them too (the dashboard), so they are read once. */
export async function readStats(session: Session, now = new Date(), workers?: WorkerInfo[]): Promise<Stats> {
  const [stats, live] = await Promise.all([session.store.stats(now, THROUGHPUT_MINUTES), workers ?? listWorkers(session)]);
  const finished = stats.finishedPerMinute.reduce((a, b) => a + b, 0);
  const age = (createdAt: string) => ({ createdAt, ageMs: Math.max(0, now.getTime() - Date.parse(createdAt)) });
  const oldest = oldestOfAll(stats.oldestQueued);
  return {
    byStatus: totalByStatus(stats.counts),
    byExecutor: stats.counts,
    oldestQueued: oldest === null ? null : age(oldest),
    oldestQueuedByExecutor: Object.fromEntries(Object.entries(stats.oldestQueued).map(([executor, createdAt]) => [executor, age(createdAt)])),
    throughput: { minutes: THROUGHPUT_MINUTES, perMinute: stats.finishedPerMinute, average: Math.round((finished / THROUGHPUT_MINUTES) * 100) / 100 },
    liveWorkers: live.filter((w) => w.state !== "dead").length,
  };
}

/** The spans the dashboard's activity charts offer: the last hour by the minute, the last day by the quarter hour. */
export const ACTIVITY_WINDOWS = {
  hour: { bucketMs: MINUTE_MS, buckets: 60 },
  day: { bucketMs: 15 * MINUTE_MS, buckets: 96 },
} as const satisfies Record<string, ActivityWindow>;

export type ActivityWindowName = keyof typeof ACTIVITY_WINDOWS;

/** What ended in each span of the last hour or day, by executor, with the spans' end. */
export async function readActivity(session: Session, name: ActivityWindowName, now = new Date()) {
  const window = ACTIVITY_WINDOWS[name];
  return { window: name, ...window, until: now.toISOString(), executors: await session.store.activity(now, window) };
}
