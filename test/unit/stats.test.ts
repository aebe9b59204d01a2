// core/stats.ts and the page rules of core/list-order.ts: pure, no store.
import { describe, expect, it } from "vitest";
import { matchesPage, mergeOrdered } from "../../src/core/list-order.ts";
import { addCount, finishedPerMinute, MINUTE_MS, totalByStatus, type ExecutorCounts } from "../../src/core/stats.ts";
import type { TaskRecord } from "../../src/core/task.ts";

describe("overview counts", () => {
  it("adds and removes counts, dropping empty rows, and totals them by status", () => {
    const counts: ExecutorCounts = {};
    addCount(counts, "a", "queued", 3);
    addCount(counts, "b", "failed");
    addCount(counts, "a", "queued", -3);
    addCount(counts, "a", "running");
    expect(counts).toEqual({ a: { running: 1 }, b: { failed: 1 } });
    addCount(counts, "b", "failed", -1);
    expect(counts).toEqual({ a: { running: 1 } });
    addCount(counts, "c", "running", 2);
    expect(totalByStatus(counts)).toEqual({ running: 3 });
    // Executors named like what every object has are counted like any other.
    addCount(counts, "constructor", "queued");
    addCount(counts, "toString", "queued", 2);
    expect(counts).toEqual({ a: { running: 1 }, c: { running: 2 }, constructor: { queued: 1 }, toString: { queued: 2 } });
  });

  it("buckets finish times into the last minutes, oldest first, leaving out what is older or later", () => {
    const now = 10 * MINUTE_MS;
    const at = [now, now - 1, now - MINUTE_MS + 1, now - MINUTE_MS, now - 3 * MINUTE_MS + 1, now - 3 * MINUTE_MS, now + 1];
    expect(finishedPerMinute(at, now, 3)).toEqual([1, 1, 3]);
    expect(finishedPerMinute([], now, 2)).toEqual([0, 0]);
  });
});

describe("page rules", () => {
  const task = (id: string, fields: Partial<TaskRecord> = {}) => ({ id, executor: "x", status: "queued", message: null, ...fields }) as TaskRecord;

  it("matches status, executor, and a search that is an id or a piece of the message in any case", () => {
    const t = task("12", { status: "failed", executor: "mail", message: "SMTP refused <b>" });
    expect(matchesPage(t, {})).toBe(true);
    expect(matchesPage(t, { statuses: ["failed"], executor: "mail", search: "smtp" })).toBe(true);
    expect(matchesPage(t, { search: "12" })).toBe(true);
    expect(matchesPage(t, { search: "1" })).toBe(false);
    expect(matchesPage(t, { statuses: ["queued"] })).toBe(false);
    expect(matchesPage(t, { executor: "other" })).toBe(false);
    expect(matchesPage(task("3"), { search: "refused" })).toBe(false);
  });

  it("merges two ordered sequences lazily", () => {
    const seen: number[] = [];
    const b = (function* () {
      for (const n of [2, 4, 6]) {
        seen.push(n);
        yield n;
      }
    })();
    const merged = mergeOrdered([1, 3, 5], b, (x, y) => x - y);
    expect([merged.next().value, merged.next().value, merged.next().value]).toEqual([1, 2, 3]);
    expect(seen).toEqual([2, 4]);
    expect([...merged]).toEqual([4, 5, 6]);
  });
});
