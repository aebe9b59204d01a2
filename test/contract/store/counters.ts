// The JournalStore contract, counters: what every transaction counted (core/counters.ts), kept
// by the store beside the tasks, and never taken back by a removal.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, succeed, input, judged, otherIs, type StoreSuite } from "./shared.ts";

const failed = { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null } as const;

export function countersTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("counts enqueues, starts, ends by status and retries, with wait and run times, per executor", async () => {
    await fresh();
    expect(await store.counters()).toEqual({});
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "1s" }) }), input(), input({ executor: "y" })], T0, noWorker);
    const first = (await claimNext(store, ME, at(20)))!;
    await store.settle(first.id, first.lease!, failed, at(320));
    const second = (await claimNext(store, ME, at(400)))!;
    await store.settle(second.id, second.lease!, succeed, at(7_400));
    await store.cancel("3", at(8_000));
    // The retry of task 1 is due a second after its failure: it waited from that failure to this start.
    const retried = (await claimNext(store, ME, at(1_400)))!;
    expect(retried.id).toBe(first.id);
    await store.exchange(ME, at(1_450), { ends: [{ id: retried.id, lease: retried.lease!, outcome: succeed }], giveBack: [], claim: 0 });
    expect(await store.counters()).toEqual({
      x: {
        enqueued: 2,
        started: 3,
        succeeded: 2,
        retried: 1,
        // Waits: 20 ms (task 1), 400 ms (task 2), 1,080 ms (task 1 again, from its failure at 320).
        wait_count: 3,
        wait_sum_ms: 1_500,
        "wait_le_0.025": 1,
        "wait_le_0.5": 1,
        "wait_le_2.5": 1,
        // Runs: 300 ms, 7 s, 50 ms.
        run_count: 3,
        run_sum_ms: 7_350,
        "run_le_0.05": 1,
        "run_le_0.5": 1,
        run_le_10: 1,
      },
      y: { enqueued: 1, cancelled: 1 },
    });
  });

  it("remove and removeFinished leave the counters as they were; a retry of a final task counts one", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const done = (await claimNext(store, ME, at(1)))!;
    await store.settle(done.id, done.lease!, failed, at(2));
    await store.cancel("2", at(3));
    const before = await store.counters();
    expect(before.x).toMatchObject({ enqueued: 3, started: 1, failed: 1, cancelled: 1 });
    await store.retry("2", at(4));
    expect((await store.counters()).x).toEqual({ ...before.x, retried: 1 });
    const after = await store.counters();
    await store.remove(["3"], at(5));
    await store.removeFinished(null, at(6));
    expect(await store.counters()).toEqual(after);
  });

  it("a recovered try counts as recovered beside how it ended; one given back unstarted counts nothing more", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const lost = (await claimNext(store, OTHER, at(1)))!;
    const recovery = await judged(store, at(2), otherIs({ liveness: "dead" }));
    await claimNext(store, ME, at(2), { recovery });
    expect((await store.get(lost.id))!.status).toBe("failed");
    const { next } = await store.exchange(ME, at(3), { ends: [], giveBack: [], claim: 1 });
    await store.exchange(ME, at(4), { ends: [], giveBack: next.map((t) => ({ id: t.id, lease: t.lease! })), claim: 0 });
    expect((await store.get(next[0]!.id))!.status).toBe("queued");
    expect((await store.counters()).x).toMatchObject({ enqueued: 3, started: 3, failed: 1, recovered: 1, run_count: 1 });
  });

  it("a task cancelled at enqueue, its dependency failed already, counts as enqueued and cancelled", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    const task = (await claimNext(store, ME, at(1)))!;
    await store.settle(task.id, task.lease!, failed, at(2));
    await store.enqueue([input({ executor: "later", after: [task.id] })], at(3), noWorker);
    expect((await store.counters()).later).toEqual({ enqueued: 1, cancelled: 1 });
  });

  it("a bulk enqueue past the active set and its claims count each task once", async () => {
    await fresh();
    await store.enqueue(
      Array.from({ length: 1_200 }, () => input()),
      T0,
      noWorker,
    );
    for (;;) {
      const { next } = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 300 });
      if (next.length === 0) break;
      await store.exchange(ME, at(2), {
        ends: next.map((t) => ({ id: t.id, lease: t.lease! })).map((e) => ({ ...e, outcome: succeed })),
        giveBack: [],
        claim: 0,
      });
    }
    await store.cancel("1200", at(3));
    expect((await store.counters()).x).toMatchObject({ enqueued: 1_200, started: 1_200, succeeded: 1_200, run_count: 1_200, wait_count: 1_200 });
  });
}
