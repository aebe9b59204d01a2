// The JournalStore contract, cancel, retry and remove (removeFinished too).
import { expect, it } from "vitest";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, noWorker, succeed, input, type StoreSuite } from "./shared.ts";

export function controlTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("cancel ends a task that is not running, asks a running one to stop, and leaves a final one", async () => {
    await fresh();
    await store.enqueue([input(), input({ runAt: at(60_000) })], T0, noWorker);
    const running = (await claimNext(store, ME, at(1)))!;
    expect(await store.cancel("2", at(2))).toMatchObject({ effect: "cancelled", task: { id: "2", status: "cancelled", completed: true } });
    expect(await store.cancel(running.id, at(3))).toMatchObject({ effect: "requested", task: { status: "running", cancelRequestedAt: at(3).toISOString() } });
    expect(await store.cancel("2", at(4))).toMatchObject({ effect: "final", task: { status: "cancelled" } });
    expect(await store.cancel("99", at(4))).toBeNull();
    // A running try that fails after its cancel was asked ends the task cancelled, never retried.
    const error = { message: "stopped", stack: null, where: null };
    expect(await store.settle(running.id, running.lease!, { kind: "failed", error, message: null }, at(5))).toMatchObject({ status: "cancelled" });
  });

  it("retry queues a final task again, with one more try; a task not final is left as it is", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const first = (await claimNext(store, ME, at(1)))!;
    await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
    expect(await store.retry(first.id, at(3))).toMatchObject({
      queued: true,
      task: { id: first.id, status: "queued", tries: 1, maxTries: 2, remainingTries: 1 },
    });
    expect(await store.get(first.id)).toMatchObject({ status: "queued" });
    expect(await store.retry("2", at(3))).toMatchObject({ queued: false, task: { status: "queued" } });
    expect(await store.retry("99", at(3))).toBeNull();
    expect(await claimNext(store, ME, at(4))).toMatchObject({ id: first.id, tries: 2 });
  });

  it("remove deletes tasks that are not running, all or none", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const running = (await claimNext(store, ME, at(1)))!;
    expect(await store.remove(["2", running.id], at(2))).toMatchObject({ removed: [], running: [running.id], missing: [] });
    expect(await store.remove(["2", "99"], at(2))).toMatchObject({ removed: [], running: [], missing: ["99"] });
    expect(await store.get("2")).not.toBeNull();
    await store.settle(running.id, running.lease!, succeed, at(3));
    const { removed } = await store.remove([running.id, "2", "2"], at(4));
    expect(removed.map((t) => t.id).sort()).toEqual(["1", "2"]);
    expect(await store.get("1")).toBeNull();
    expect(await store.get("2")).toBeNull();
    expect((await store.list({})).map((t) => t.id)).toEqual(["3"]);
  });

  it("removeFinished deletes final tasks finished before a time (all when null), cheaply nothing while the oldest is younger", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    for (const ms of [1_000, 5_000]) {
      const claimed = (await claimNext(store, ME, at(ms)))!;
      await store.settle(claimed.id, claimed.lease!, succeed, at(ms));
    }
    expect(await store.removeFinished(at(3_000), at(10_000), { onlyIfOldestBefore: at(500) })).toEqual([]);
    expect(await store.removeFinished(at(3_000), at(10_000), { onlyIfOldestBefore: at(2_000) })).toEqual(["1"]);
    expect((await store.list({})).map((t) => t.id)).toEqual(["2", "3"]);
    expect(await store.removeFinished(null, at(10_000))).toEqual(["2"]);
    expect((await store.list({})).map((t) => t.id)).toEqual(["3"]);
  });

  it("removeFinished of one executor leaves the other executors' final tasks", async () => {
    await fresh();
    await store.enqueue([input(), input({ executor: "y" }), input(), input({ executor: "y" })], T0, noWorker);
    for (const id of ["1", "2", "3"]) await store.cancel(id, at(1));
    expect((await store.removeFinished(null, at(2), { executor: "y" })).sort()).toEqual(["2"]);
    expect((await store.list({})).map((t) => t.id).sort()).toEqual(["1", "3", "4"]);
    expect((await store.removeFinished(null, at(3), { executor: "x" })).sort()).toEqual(["1", "3"]);
    expect((await store.list({})).map((t) => t.id)).toEqual(["4"]);
  });
}
