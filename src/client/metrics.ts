// What a Prometheus scrape sees (`bgtask stats --format prometheus`, `/metrics`): the journal's
// counters, its tasks by status, the paused queues and the live workers, read in a fixed number of
// store reads whatever the depth of the queue, and rendered in the text exposition format 0.0.4.
import { type COUNTER_NAMES, type Counters, TIME_BUCKETS_S } from "../core/counters.ts";
import { countOf, type ExecutorCounts } from "../core/stats.ts";
import { ACTIVE_STATUSES, FINAL_STATUSES } from "../core/task.ts";
import type { Session } from "./session.ts";
import { readStats } from "./stats.ts";

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One scrape's figures, as of one read each. */
export interface MetricsSnapshot {
  counters: Counters;
  /** The tasks there are, by executor and status. */
  counts: ExecutorCounts;
  pausedQueues: readonly string[];
  /** Per executor, how long its oldest queued task has waited (one with none queued is left out). */
  oldestQueuedAgeMs: Record<string, number>;
  liveWorkers: number;
}

/** The figures of a scrape: the overview's reads (counts, workers), the counters and the paused queues. */
export async function readMetrics(session: Session, now = new Date()): Promise<MetricsSnapshot> {
  const [stats, counters, pausedQueues] = await Promise.all([readStats(session, now), session.store.counters(), session.store.pausedQueues()]);
  return {
    counters,
    counts: stats.byExecutor,
    pausedQueues,
    oldestQueuedAgeMs: Object.fromEntries(Object.entries(stats.oldestQueuedByExecutor).map(([executor, { ageMs }]) => [executor, ageMs])),
    liveWorkers: stats.liveWorkers,
  };
}

type Labels = Readonly<Record<string, string>>;

/** A label value as the format quotes it: executor names are the user's, and may hold any of these. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([key, text]) => `${key}="${escapeLabel(text)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(",")}}` : ""} ${value}`;
}

function family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: readonly string[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples];
}

/** A bucket bound as client libraries write it (1.0, not 1), so series keep one `le` whoever exposes them. */
function bound(le: number): string {
  return Number.isInteger(le) ? le.toFixed(1) : String(le);
}

/** One executor's histogram: the journal counts each observation in one bucket, Prometheus's buckets hold all below their bound. */
function histogramSamples(name: string, executor: string, row: Readonly<Record<string, number>>, histogram: "wait" | "run"): string[] {
  let cumulative = 0;
  const buckets = TIME_BUCKETS_S.map((le) => {
    cumulative += countOf(row, `${histogram}_le_${le}`);
    return sample(`${name}_bucket`, { executor, le: bound(le) }, cumulative);
  });
  const count = cumulative + countOf(row, `${histogram}_le_inf`);
  return [
    ...buckets,
    sample(`${name}_bucket`, { executor, le: "+Inf" }, count),
    sample(`${name}_sum`, { executor }, countOf(row, `${histogram}_sum_ms`) / 1000),
    sample(`${name}_count`, { executor }, count),
  ];
}

const COUNTERS = [
  ["enqueued", "Tasks enqueued."],
  ["started", "Tries started."],
  ["retried", "Tasks sent back to wait for another try: after a try that did not end them, or by a retry of a final task."],
  ["recovered", "Tries whose worker died, taken back by recovery."],
] as const satisfies ReadonlyArray<readonly [(typeof COUNTER_NAMES)[number], string]>;

/**
 * The snapshot in the text exposition format. Every executor the journal knows (from its counters,
 * its tasks or its paused queues) gets every series, zeros included, so a series never vanishes
 * between scrapes.
 */
export function prometheusText(snapshot: MetricsSnapshot): string {
  const { counters, counts } = snapshot;
  const paused = new Set(snapshot.pausedQueues);
  const executors = [...new Set([...Object.keys(counters), ...Object.keys(counts), ...paused, ...Object.keys(snapshot.oldestQueuedAgeMs)])].sort();
  const row = (executor: string) => (Object.hasOwn(counters, executor) ? counters[executor]! : {});
  const statusCounts = (executor: string): Readonly<Record<string, number>> => (Object.hasOwn(counts, executor) ? counts[executor]! : {});
  const each = (render: (executor: string) => string[]) => executors.flatMap(render);
  const lines = [
    ...COUNTERS.flatMap(([name, help]) =>
      family(
        `bgtask_tasks_${name}_total`,
        "counter",
        help,
        each((executor) => [sample(`bgtask_tasks_${name}_total`, { executor }, countOf(row(executor), name))]),
      ),
    ),
    ...family(
      "bgtask_tasks_finished_total",
      "counter",
      "Tasks that became final, by final status.",
      each((executor) => FINAL_STATUSES.map((status) => sample("bgtask_tasks_finished_total", { executor, status }, countOf(row(executor), status)))),
    ),
    ...family(
      "bgtask_tasks",
      "gauge",
      "Tasks not final, by status.",
      each((executor) => ACTIVE_STATUSES.map((status) => sample("bgtask_tasks", { executor, status }, countOf(statusCounts(executor), status)))),
    ),
    ...family(
      "bgtask_tasks_retained",
      "gauge",
      "Final tasks kept in the journal, by status, until removed or pruned by retention.",
      each((executor) => FINAL_STATUSES.map((status) => sample("bgtask_tasks_retained", { executor, status }, countOf(statusCounts(executor), status)))),
    ),
    ...family(
      "bgtask_queue_paused",
      "gauge",
      "1 while the executor's queue is paused, else 0.",
      each((executor) => [sample("bgtask_queue_paused", { executor }, paused.has(executor) ? 1 : 0)]),
    ),
    ...family(
      "bgtask_oldest_queued_age_seconds",
      "gauge",
      "How long the executor's oldest queued task has waited; 0 when none is queued.",
      each((executor) => [sample("bgtask_oldest_queued_age_seconds", { executor }, countOf(snapshot.oldestQueuedAgeMs, executor) / 1000)]),
    ),
    ...family("bgtask_workers", "gauge", "Live worker processes, on every host.", [sample("bgtask_workers", {}, snapshot.liveWorkers)]),
    ...family(
      "bgtask_task_wait_seconds",
      "histogram",
      "How long tries waited to start: from the task's creation, or its previous try's end.",
      each((executor) => histogramSamples("bgtask_task_wait_seconds", executor, row(executor), "wait")),
    ),
    ...family(
      "bgtask_task_run_seconds",
      "histogram",
      "How long tries ran, from their start to their end.",
      each((executor) => histogramSamples("bgtask_task_run_seconds", executor, row(executor), "run")),
    ),
  ];
  return `${lines.join("\n")}\n`;
}
