// client/metrics.ts's prometheusText: pure, from hand-made counters and counts to the text
// exposition format (what a scrape of /metrics and `bgtask stats --format prometheus` print).
import { describe, expect, it } from "vitest";
import { type MetricsSnapshot, prometheusText } from "../../src/client/metrics.ts";
import { addCounter, type Counters, TIME_BUCKETS_S } from "../../src/core/counters.ts";

const EMPTY: MetricsSnapshot = { counters: {}, counts: {}, pausedQueues: [], oldestQueuedAgeMs: {}, liveWorkers: 0 };

/** The sample lines of `text`, as "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const lines = text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  return new Map(lines.map((line) => [line.slice(0, line.lastIndexOf(" ")), Number(line.slice(line.lastIndexOf(" ") + 1))]));
}

describe("the Prometheus exposition", () => {
  it("has HELP and TYPE for every family, samples only under their own, and ends with a newline", () => {
    const counters: Counters = {};
    addCounter(counters, "mail/send", "enqueued", 3);
    const text = prometheusText({ ...EMPTY, counters });
    expect(text.endsWith("\n")).toBe(true);
    let family = "";
    const types = new Map<string, string>();
    for (const line of text.trimEnd().split("\n")) {
      const comment = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
      if (comment) {
        if (comment[1] === "HELP") family = comment[2]!;
        else types.set(comment[2]!, comment[3]!);
        expect(comment[2], line).toBe(family);
        continue;
      }
      const name = /^[a-z_]+/.exec(line)![0];
      expect([family, `${family}_bucket`, `${family}_sum`, `${family}_count`], line).toContain(name);
    }
    expect(Object.fromEntries(types)).toEqual({
      bgtask_tasks_enqueued_total: "counter",
      bgtask_tasks_started_total: "counter",
      bgtask_tasks_retried_total: "counter",
      bgtask_tasks_recovered_total: "counter",
      bgtask_tasks_finished_total: "counter",
      bgtask_tasks: "gauge",
      bgtask_tasks_retained: "gauge",
      bgtask_queue_paused: "gauge",
      bgtask_oldest_queued_age_seconds: "gauge",
      bgtask_workers: "gauge",
      bgtask_task_wait_seconds: "histogram",
      bgtask_task_run_seconds: "histogram",
    });
  });

  it("gives every executor known from counters, counts or paused queues every series, zeros included", () => {
    const counters: Counters = {};
    addCounter(counters, "a", "failed", 2);
    addCounter(counters, "a", "retried");
    const text = prometheusText({
      ...EMPTY,
      counters,
      counts: { b: { queued: 4, succeeded: 9 } },
      pausedQueues: ["c"],
      oldestQueuedAgeMs: { b: 1500 },
      liveWorkers: 2,
    });
    const values = samples(text);
    for (const executor of ["a", "b", "c"]) {
      for (const status of ["queued", "scheduled", "running", "paused"])
        expect(values.has(`bgtask_tasks{executor="${executor}",status="${status}"}`)).toBe(true);
      for (const status of ["succeeded", "failed", "cancelled"])
        expect(values.has(`bgtask_tasks_finished_total{executor="${executor}",status="${status}"}`)).toBe(true);
      expect(values.get(`bgtask_task_run_seconds_count{executor="${executor}"}`)).toBe(0);
    }
    expect(values.get('bgtask_tasks_finished_total{executor="a",status="failed"}')).toBe(2);
    expect(values.get('bgtask_tasks_retried_total{executor="a"}')).toBe(1);
    expect(values.get('bgtask_tasks_enqueued_total{executor="b"}')).toBe(0);
    expect(values.get('bgtask_tasks{executor="b",status="queued"}')).toBe(4);
    // Final tasks kept are a gauge of their own: removal lowers it, and `sum(bgtask_tasks)` stays the work to do.
    expect(values.has('bgtask_tasks{executor="b",status="succeeded"}')).toBe(false);
    expect(values.get('bgtask_tasks_retained{executor="b",status="succeeded"}')).toBe(9);
    expect(values.get('bgtask_tasks_retained{executor="a",status="failed"}')).toBe(0);
    expect([values.get('bgtask_queue_paused{executor="c"}'), values.get('bgtask_queue_paused{executor="a"}')]).toEqual([1, 0]);
    expect([values.get('bgtask_oldest_queued_age_seconds{executor="b"}'), values.get('bgtask_oldest_queued_age_seconds{executor="a"}')]).toEqual([1.5, 0]);
    expect(values.get("bgtask_workers")).toBe(2);
    // Sorted, so two scrapes of the same journal print the same text.
    expect([...text.matchAll(/^bgtask_queue_paused\{executor="(\w)"\}/gm)].map((m) => m[1])).toEqual(["a", "b", "c"]);
  });

  it("makes cumulative buckets from the per-bucket counts, with +Inf and _count the total and _sum in seconds", () => {
    const counters: Counters = {};
    // Waits of 3 ms, 3 ms, 700 ms, 2 s and two hours, as the journal counts them.
    for (const [name, n] of [
      ["wait_le_0.005", 2],
      ["wait_le_1", 1],
      ["wait_le_2.5", 1],
      ["wait_le_inf", 1],
      ["wait_count", 5],
      ["wait_sum_ms", 2 * 3 + 700 + 2000 + 7_200_000],
    ] as const)
      addCounter(counters, "x", name, n);
    const values = samples(prometheusText({ ...EMPTY, counters }));
    const bucket = (le: string) => values.get(`bgtask_task_wait_seconds_bucket{executor="x",le="${le}"}`);
    expect([bucket("0.005"), bucket("0.5"), bucket("1.0"), bucket("2.5"), bucket("3600.0"), bucket("+Inf")]).toEqual([2, 2, 3, 4, 4, 5]);
    expect(values.get('bgtask_task_wait_seconds_count{executor="x"}')).toBe(5);
    expect(values.get('bgtask_task_wait_seconds_sum{executor="x"}')).toBe(7202.706);
    const les = [...values.keys()].filter((key) => key.startsWith("bgtask_task_wait_seconds_bucket")).map((key) => /le="([^"]+)"/.exec(key)![1]);
    expect(les).toEqual([...TIME_BUCKETS_S.map((le) => (Number.isInteger(le) ? `${le}.0` : String(le))), "+Inf"]);
  });

  it("escapes backslash, double quote and newline in label values", () => {
    const counters: Counters = {};
    addCounter(counters, 'a\\b"c\nd', "enqueued", 7);
    const text = prometheusText({ ...EMPTY, counters });
    expect(text).toContain('bgtask_tasks_enqueued_total{executor="a\\\\b\\"c\\nd"} 7\n');
    expect(text.split("\n").every((line) => !line.startsWith("d"))).toBe(true);
  });

  it("an empty journal still has its families and the unlabelled gauge", () => {
    const text = prometheusText(EMPTY);
    expect([...samples(text)]).toEqual([["bgtask_workers", 0]]);
    expect(text.match(/^# TYPE /gm)).toHaveLength(12);
  });
});
