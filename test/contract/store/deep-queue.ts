// The JournalStore contract, a deep queue: past the active set's limit (1,000 in the file journal)
// a store may keep plain queued tasks elsewhere (the file journal's cold queue): every operation
// must still see them as queued tasks.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, slots, input, type StoreSuite } from "./shared.ts";

export function deepQueueTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  const DEEP = 1_200;
  const deep = async () => {
    await fresh();
    await store.enqueue(
      Array.from({ length: DEEP }, (_, i) => input({ context: { n: i + 1 } })),
      T0,
      noWorker,
    );
  };
  const succeed = { kind: "succeeded", message: null, result: null } as const;

  it("get, list, cancel and remove see its tasks; ids go on after it", async () => {
    await deep();
    expect(await store.get("600")).toMatchObject({ id: "600", status: "queued", context: { n: 600 } });
    expect(await store.get(String(DEEP + 1))).toBeNull();
    expect((await store.list({ limit: 3 })).map((t) => t.id)).toEqual(["1", "2", "3"]);
    expect((await store.list({ statuses: ["queued"], limit: 2 })).map((t) => t.id)).toEqual(["1", "2"]);
    expect(await store.list({ statuses: ["running"] })).toEqual([]);
    expect((await store.cancel("2", at(1)))!).toMatchObject({ effect: "cancelled", task: { status: "cancelled" } });
    expect((await store.remove(["3"], at(1))).removed.map((t) => t.id)).toEqual(["3"]);
    expect(await store.get("2")).toMatchObject({ status: "cancelled" });
    expect(await store.get("3")).toBeNull();
    expect((await store.list({ statuses: ["queued"], limit: 2 })).map((t) => t.id)).toEqual(["1", "4"]);
    expect((await store.list({ statuses: ["cancelled"] })).map((t) => t.id)).toEqual(["2"]);
    expect((await store.enqueue([input()], at(2), noWorker)).tasks[0]!.id).toBe(String(DEEP + 1));
  });

  it("claims keep claim order with the rest of the active set: due retries first, serial keys held, each task once", async () => {
    await deep();
    const [serialA, serialB] = (await store.enqueue([input({ serialKey: "k" }), input({ serialKey: "k" })], T0, noWorker)).tasks;
    await store.enqueue([input({ runAt: at(3_600_000) })], T0, noWorker);
    await store.cancel("5", at(1));
    const first = (await claimNext(store, ME, at(1)))!;
    expect(first.id).toBe("1");
    await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
    // Task 1 failed without a retry policy: final.
    const order: string[] = [];
    let now = 3;
    for (let claimed = await claimNext(store, ME, at(now)); claimed; claimed = await claimNext(store, ME, at(++now))) {
      order.push(claimed.id);
      if (claimed.serialKey !== null) {
        // Its serial twin waits while it runs.
        const other = await claimNext(store, OTHER, at(now));
        expect(other?.serialKey ?? null).toBeNull();
        if (other) {
          order.push(other.id);
          await store.settle(other.id, other.lease!, succeed, at(now));
        }
      }
      await store.settle(claimed.id, claimed.lease!, succeed, at(now));
    }
    const expected = [...Array.from({ length: DEEP - 1 }, (_, i) => String(i + 2)).filter((id) => id !== "5"), serialA!.id, serialB!.id];
    expect(order).toEqual(expected);
    expect(await claimNext(store, ME, at(3_600_000))).toMatchObject({ id: String(DEEP + 3) });
    expect(await store.get("600")).toMatchObject({ status: "succeeded" });
  });

  it("a claim for several that drops one for its limit takes none of the deep queue ahead of the tasks it never looked at", async () => {
    await deep();
    const urgent = { priority: 1 };
    const [limited, clash, plain, later] = (
      await store.enqueue(
        [input({ ...urgent, executor: "c", concurrency: 1 }), input({ ...urgent, executor: "c", concurrency: 1 }), input(urgent), input(urgent)],
        T0,
        noWorker,
      )
    ).tasks;
    // The first three in claim order, less the one whose limit the first fills: a pick comes back short.
    const first = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 3, start: 3 });
    expect(first.next.map((t) => t.id)).toEqual([limited!.id, plain!.id]);
    const second = await store.exchange(ME, at(2), { ends: [], giveBack: [], claim: 2, start: 2 });
    expect(second.next.map((t) => t.id)).toEqual([later!.id, "1"]);
    expect(await store.get(clash!.id)).toMatchObject({ status: "queued" });
  });

  it("a retry that comes due is claimed before the queued tasks behind it", async () => {
    await fresh();
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "10s" }) })], T0, noWorker);
    await store.enqueue(
      Array.from({ length: DEEP }, () => input()),
      T0,
      noWorker,
    );
    const first = (await claimNext(store, ME, at(1)))!;
    await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
    expect((await claimNext(store, ME, at(3)))!.id).toBe("2");
    expect((await claimNext(store, ME, at(20_000)))!).toMatchObject({ id: "1", tries: 2 });
    expect((await claimNext(store, ME, at(20_001)))!.id).toBe("3");
  });

  it("page and stats read the deep queue in order and count it by executor, without its tasks that left", async () => {
    await deep();
    await store.cancel("5", at(1));
    // An executor named like a property of every object is counted as any other.
    await store.enqueue([input({ executor: "constructor" })], at(2), noWorker);
    expect((await store.page({ order: "claim", offset: 3, limit: 3 })).map((t) => t.id)).toEqual(["4", "6", "7"]);
    expect((await store.page({ order: "newest", offset: 0, limit: 3 })).map((t) => t.id)).toEqual([String(DEEP + 1), String(DEEP), String(DEEP - 1)]);
    expect((await store.stats(at(3), 1)).counts).toEqual({ x: { queued: DEEP - 1, cancelled: 1 }, constructor: { queued: 1 } });
    const claimed = (await claimNext(store, ME, at(4)))!;
    expect(claimed.id).toBe("1");
    const stats = await store.stats(at(5), 1);
    expect(stats.counts).toEqual({ x: { queued: DEEP - 2, running: 1, cancelled: 1 }, constructor: { queued: 1 } });
    // Each executor's oldest, the one whose only task waits behind the whole deep queue too.
    expect(stats.oldestQueued).toEqual({ x: T0.toISOString(), constructor: at(2).toISOString() });
  });

  it("a claim that refuses queued tasks (a tick's budget) leaves them queued, in order", async () => {
    await deep();
    const refuseEven = { excludeIds: Array.from({ length: DEEP / 2 }, (_, i) => String(2 * (i + 1))) };
    expect((await claimNext(store, ME, at(1), { filter: refuseEven }))!.id).toBe("1");
    expect((await claimNext(store, ME, at(2), { filter: refuseEven }))!.id).toBe("3");
    expect((await store.list({ statuses: ["queued"], limit: 3 })).map((t) => t.id)).toEqual(["2", "4", "5"]);
    expect((await claimNext(store, ME, at(3)))!.id).toBe("2");
  });

  it("a deep enqueue reserves a worker slot for its tasks, as a shallow one does", async () => {
    await fresh();
    expect(
      (
        await store.enqueue(
          Array.from({ length: DEEP }, () => input()),
          T0,
          slots(2),
        )
      ).workerSlot,
    ).not.toBeNull();
    expect(
      (
        await store.enqueue(
          Array.from({ length: DEEP }, () => input()),
          T0,
          slots(2),
        )
      ).workerSlot,
    ).not.toBeNull();
    expect((await store.enqueue([input()], T0, slots(2))).workerSlot).toBeNull();
  });

  it("a task of higher priority, a keyed one or one after another, enqueued behind it, is claimed in claim order", async () => {
    await deep();
    const [urgent] = (await store.enqueue([input({ priority: 1 })], T0, noWorker)).tasks;
    const [keyed] = (await store.enqueue([input({ key: "k" })], T0, noWorker)).tasks;
    expect((await store.enqueue([input({ key: "k" })], T0, noWorker)).outcomes).toEqual(["existing"]);
    const [after] = (await store.enqueue([input({ after: ["1"] })], T0, noWorker)).tasks;
    expect((await claimNext(store, ME, at(1)))!.id).toBe(urgent!.id);
    const first = (await claimNext(store, ME, at(2)))!;
    expect(first.id).toBe("1");
    await store.settle(first.id, first.lease!, succeed, at(3));
    expect((await store.get(after!.id))!.waitingFor).toEqual([]);
    const order: string[] = [];
    for (let claimed = await claimNext(store, ME, at(4)); claimed; claimed = await claimNext(store, ME, at(4))) {
      order.push(claimed.id);
      await store.settle(claimed.id, claimed.lease!, succeed, at(4));
    }
    expect(order.slice(-2)).toEqual([keyed!.id, after!.id]);
    expect(order).toHaveLength(DEEP + 1);
  });

  it("a paused queue's tasks wait while the other executors' are claimed", async () => {
    await deep();
    await store.pauseQueues(["x"], true);
    await store.enqueue(
      Array.from({ length: 3 }, () => input({ executor: "y" })),
      T0,
      noWorker,
    );
    // A store may pass over a bounded number of the paused queue's tasks per claim (the file
    // journal moves them from its cold queue into the active set): a few claims may find nothing.
    const order: string[] = [];
    for (let attempt = 0; attempt < 50 && order.length < 3; attempt++) {
      const claimed = await claimNext(store, ME, at(1));
      if (claimed) order.push(claimed.executor);
    }
    expect(order).toEqual(["y", "y", "y"]);
    expect(await claimNext(store, ME, at(1))).toBeNull();
    expect((await store.list({ statuses: ["queued"], executor: "x" })).length).toBe(DEEP);
    await store.pauseQueues(["x"], false);
    expect((await claimNext(store, ME, at(2)))!.id).toBe("1");
  });

  it("cancelMany of every queued task cancels the whole queue at once; later tasks are claimed", async () => {
    await deep();
    const ids = (await store.list({ statuses: ["queued"] })).map((t) => t.id);
    expect(ids).toHaveLength(DEEP);
    const results = await store.cancelMany(ids, at(1));
    expect(results.every((r) => r?.effect === "cancelled")).toBe(true);
    expect(await store.list({ statuses: ["queued"] })).toEqual([]);
    expect(await store.get("700")).toMatchObject({ status: "cancelled" });
    expect(await claimNext(store, ME, at(2))).toBeNull();
    expect(await store.retireWorker("w", at(2), 0)).toMatchObject({ retired: true });
    const [next] = (await store.enqueue([input()], at(3), noWorker)).tasks;
    expect((await claimNext(store, ME, at(4)))!.id).toBe(next!.id);
  });

  it("a worker retires only once the deep queue is drained", async () => {
    await deep();
    expect(await store.retireWorker("w", at(1), 0)).toEqual({ retired: false, nextDueAt: null });
    expect(await store.reserveWorker(at(1), slots(3))).not.toBeNull();
  });
}
