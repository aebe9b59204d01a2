// The Reporter against a fake store: coalescing, the last value always landing, failed writes
// kept and retried, and a lost lease stopping it.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaseLostError } from "../../src/errors.ts";
import type { JournalStore, TaskReport } from "../../src/journal/store.ts";
import { mergeReports, Reporter, type ReporterOptions } from "../../src/worker/reporter.ts";

function fakeStore(fail: (call: number) => Error | null = () => null) {
  const writes: TaskReport[] = [];
  let calls = 0;
  const store = {
    async report(_id: string, _lease: string, report: TaskReport) {
      calls += 1;
      const error = fail(calls);
      if (error) throw error;
      writes.push(report);
    },
  } as unknown as JournalStore;
  return { store, writes, calls: () => calls };
}

function reporter(store: JournalStore, overrides: Partial<ReporterOptions> = {}) {
  return new Reporter(store, "1", "lease", { intervalMs: 250, onLeaseLost: () => undefined, onWriteError: () => undefined, ...overrides });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Reporter", () => {
  it("merges reports, attributes key by key", () => {
    expect(mergeReports({ progress: 1, attributes: { a: 1, b: 1 } }, { progress: 2, attributes: { b: 2 } })).toEqual({
      progress: 2,
      attributes: { a: 1, b: 2 },
    });
    expect(mergeReports(null, { message: "x" })).toEqual({ message: "x" });
  });

  it("turns a storm into one write per interval, and flush() lands the last value", async () => {
    const { store, writes } = fakeStore();
    const r = reporter(store);
    for (let i = 1; i <= 10_000; i++) r.schedule({ progress: i / 100, message: `item ${i}` });
    expect(writes).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(250);
    expect(writes).toEqual([{ progress: 100, message: "item 10000" }]);
    r.schedule({ progress: 1 });
    r.schedule({ attributes: { done: true } });
    await r.flush();
    expect(writes.at(-1)).toEqual({ progress: 1, attributes: { done: true } });
    expect(r.unsaved).toBe(false);
    r.stop();
  });

  it("keeps a report whose write failed, newer values winning, and writes it on the next try", async () => {
    const errors: unknown[] = [];
    const { store, writes } = fakeStore((call) => (call === 1 ? new Error("disk on fire") : null));
    const r = reporter(store, { onWriteError: (error) => errors.push(error) });
    r.schedule({ progress: 10, message: "old", attributes: { a: 1 } });
    await r.flush();
    expect(writes).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(r.unsaved).toBe(true);
    r.schedule({ progress: 20, attributes: { b: 2 } });
    await r.flush();
    expect(writes).toEqual([{ progress: 20, message: "old", attributes: { a: 1, b: 2 } }]);
    r.stop();
  });

  it("never has two writes in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const store = {
      async report() {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        inFlight -= 1;
      },
    } as unknown as JournalStore;
    const r = reporter(store);
    for (let i = 0; i < 20; i++) {
      r.schedule({ progress: i });
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(5000);
    await r.flush();
    expect(most).toBe(1);
    r.stop();
  });

  it("stops for good when the lease is lost", async () => {
    let lost = 0;
    const { store, calls } = fakeStore(() => new LeaseLostError("1"));
    const r = reporter(store, { onLeaseLost: () => (lost += 1) });
    r.schedule({ progress: 5 });
    await r.flush();
    expect(r.leaseLost).toBe(true);
    r.schedule({ progress: 6 });
    await r.flush();
    expect(calls()).toBe(1);
    expect(lost).toBe(1);
    r.stop();
  });
});
