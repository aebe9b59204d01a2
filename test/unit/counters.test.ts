// core/counters.ts: what a change of one task counts, in the cases the store contract does not
// reach, and the check every journal's counters pass when read.
import { describe, expect, it } from "vitest";
import { type Counters, countChange, isCounters } from "../../src/core/counters.ts";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { createTask, type TaskRecord } from "../../src/core/task.ts";
import { cancel, claim, settle } from "../../src/core/transitions.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const ME = { pid: 1, host: "h", startTime: 1, bootId: "b" };
const task = (): TaskRecord => createTask("1", { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null }, T0, 1);

function counted(...changes: Array<[TaskRecord | null, TaskRecord | null, number]>): Counters {
  const counters: Counters = {};
  for (const [before, after, ms] of changes) countChange(counters, before, after, at(ms));
  return counters;
}

describe("countChange", () => {
  it("a try paused on its budget and resumed is one try: its wait and its run are counted once", () => {
    const queued = task();
    const running = claim(queued, ME, "l1", at(100));
    const paused = settle(running, { kind: "paused", message: null }, at(1_100));
    expect(paused.status).toBe("paused");
    const resumed = claim(paused, ME, "l2", at(5_000));
    const done = settle(resumed, { kind: "succeeded", message: null, result: null }, at(5_500));
    expect(counted([null, queued, 0], [queued, running, 100], [running, paused, 1_100], [paused, resumed, 5_000], [resumed, done, 5_500]).x).toEqual({
      enqueued: 1,
      started: 1,
      succeeded: 1,
      wait_count: 1,
      wait_sum_ms: 100,
      "wait_le_0.1": 1,
      run_count: 1,
      run_sum_ms: 5_400,
      run_le_10: 1,
    });
  });

  it("a paused task cancelled counts as cancelled; a removal and a change within a status count nothing", () => {
    const running = claim(task(), ME, "l1", at(1));
    const paused = settle(running, { kind: "paused", message: null }, at(2));
    expect(counted([paused, cancel(paused, at(3)), 3], [paused, null, 4], [running, { ...running, progress: 0.5 }, 5])).toEqual({ x: { cancelled: 1 } });
  });

  it("a time past the last bucket lands in +Inf; a clock that went back counts as no time", () => {
    const queued = task();
    const running = claim(queued, ME, "l1", at(2 * 3_600_000));
    const done = settle(running, { kind: "succeeded", message: null, result: null }, at(-1));
    const x = counted([queued, running, 2 * 3_600_000], [running, done, -1]).x!;
    expect(x).toMatchObject({ wait_le_inf: 1, "run_le_0.005": 1, run_count: 1 });
    // A count of 0 is never stored: absent reads as 0.
    expect(x.run_sum_ms).toBeUndefined();
  });
});

describe("isCounters", () => {
  it("takes whole non-negative counts of known names, and nothing else", () => {
    expect(isCounters({})).toBe(true);
    expect(isCounters({ x: { enqueued: 3, "wait_le_0.5": 1 } })).toBe(true);
    expect(isCounters({ x: { enqueued: -1 } })).toBe(false);
    expect(isCounters({ x: { enqueued: 1.5 } })).toBe(false);
    expect(isCounters({ x: { bogus: 1 } })).toBe(false);
    expect(isCounters({ x: [1] })).toBe(false);
    expect(isCounters([])).toBe(false);
    expect(isCounters(null)).toBe(false);
  });
});
