// The JournalStore contract, pinned hosts: tasks only a worker on their host claims, and the worker
// slots they call for.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import type { WorkerRef } from "../../../src/core/task.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, slots, input, type StoreSuite } from "./shared.ts";

export function hostsTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("a worker claims only tasks pinned to its host or to none, in claim order; the pin stays through a retry", async () => {
    await fresh();
    const THERE: WorkerRef = { ...OTHER, host: "there" };
    const retry = normaliseRetry({ tries: 2, interval: "1s" });
    const { tasks } = await store.enqueue(
      [input({ pinnedHost: "there", retry }), input(), input({ pinnedHost: "here" }), input({ pinnedHost: "there" })],
      T0,
      noWorker,
    );
    expect(tasks.map((t) => t.pinnedHost ?? null)).toEqual(["there", null, "here", "there"]);
    const batch = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 5 });
    expect(batch.next.map((t) => t.id)).toEqual(["2", "3"]);
    expect(await claimNext(store, ME, at(2))).toBeNull();
    const first = (await claimNext(store, THERE, at(3)))!;
    expect(first).toMatchObject({ id: "1", pinnedHost: "there" });
    await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null }, at(4));
    expect(await store.get("1")).toMatchObject({ status: "scheduled", pinnedHost: "there" });
    expect(await claimNext(store, ME, at(2_000))).toBeNull();
    // The retry comes before the next new task, on its host only.
    expect((await claimNext(store, THERE, at(2_000)))!.id).toBe("1");
    expect((await claimNext(store, THERE, at(2_001)))!.id).toBe("4");
  });

  it("worker slots: a task pinned to another host starts no worker here, one pinned here does though others idle elsewhere; a worker retires with only others' tasks left", async () => {
    await fresh();
    expect((await store.enqueue([input({ pinnedHost: "there" })], T0, slots(2))).workerSlot).toBeNull();
    const there = (await store.reserveWorker(T0, { ...slots(2), host: "there" }))!;
    expect(there).toEqual(expect.any(String));
    await store.registerWorker("w", ME, T0);
    expect(await store.retireWorker("w", at(1), 60_000)).toEqual({ retired: true, nextDueAt: null });
    await store.enqueue([input({ pinnedHost: "there", runAt: at(500) })], at(1), noWorker);
    expect(await store.retireWorker(there, at(2), 60_000)).toEqual({ retired: false, nextDueAt: null });
    // Two workers live elsewhere; this host's first is wanted for the task only it may run.
    await store.registerWorker("w2", { ...OTHER, host: "there" }, at(2));
    expect((await store.enqueue([input({ pinnedHost: "here" })], at(3), slots(2))).workerSlot).toEqual(expect.any(String));
    expect((await store.enqueue([input({ pinnedHost: "here" })], at(3), slots(1))).workerSlot).toBeNull();
  });
}
