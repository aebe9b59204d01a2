// The JournalStore contract, queue controls: priority, keys, after, pause and concurrency.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { forcedOutcome } from "../../../src/core/transitions.ts";
import { TaskNotFoundError } from "../../../src/errors.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, slots, succeed, input, judged, otherIs, type StoreSuite } from "./shared.ts";

export function queueControlsTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  const fail = { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null } as const;

  it("claims take higher priority first within a claim rank, then the oldest; serial keys still hold", async () => {
    await fresh();
    await store.enqueue(
      [input(), input({ priority: 5 }), input({ priority: 5, serialKey: "k" }), input({ priority: 5, serialKey: "k" }), input({ priority: 1 })],
      T0,
      noWorker,
    );
    expect((await store.get("2"))!.priority).toBe(5);
    const order: string[] = [];
    for (let claimed = await claimNext(store, ME, at(1)); claimed; claimed = await claimNext(store, ME, at(1))) order.push(claimed.id);
    // 4 shares 3's busy serial key; once 3 ends, it comes first again.
    expect(order).toEqual(["2", "3", "5", "1"]);
    const three = (await store.list({ ids: ["3"] }))[0]!;
    await store.settle("3", three.lease!, succeed, at(2));
    expect((await claimNext(store, ME, at(3)))!.id).toBe("4");
  });

  it("a due retry comes before new work of any priority", async () => {
    await fresh();
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "1s" }) })], T0, noWorker);
    const first = (await claimNext(store, ME, at(1)))!;
    await store.settle(first.id, first.lease!, fail, at(2));
    await store.enqueue([input({ priority: 100 })], at(3), noWorker);
    expect((await claimNext(store, ME, at(5_000)))!.id).toBe("1");
    expect((await claimNext(store, ME, at(5_001)))!.id).toBe("2");
  });

  it("a key makes one task while one with that executor and key is not final; replace changes a waiting one, never a running one", async () => {
    await fresh();
    const first = await store.enqueue([input({ key: "k", context: { n: 1 } })], T0, noWorker);
    expect(first.outcomes).toEqual(["created"]);
    const again = await store.enqueue(
      [input({ key: "k", context: { n: 2 } }), input({ key: "k", executor: "y" }), input({ key: "j" }), input({ key: "j" })],
      T0,
      noWorker,
    );
    expect(again.outcomes).toEqual(["existing", "created", "created", "existing"]);
    expect(again.tasks.map((t) => t.id)).toEqual(["1", "2", "3", "3"]);
    expect((await store.get("1"))!.context).toEqual({ n: 1 });
    const replaced = await store.enqueue([input({ key: "k", context: { n: 3 }, replace: true, runAt: at(60_000) })], at(1), noWorker);
    expect(replaced.outcomes).toEqual(["replaced"]);
    expect(await store.get("1")).toMatchObject({ context: { n: 3 }, status: "scheduled", nextRunAt: at(60_000).toISOString() });
    const claimed = (await claimNext(store, ME, at(60_000)))!;
    expect(claimed.id).toBe("1");
    const running = await store.enqueue([input({ key: "k", context: { n: 4 }, replace: true })], at(60_001), noWorker);
    expect(running.outcomes).toEqual(["running"]);
    expect((await store.get("1"))!.context).toEqual({ n: 3 });
    await store.settle("1", claimed.lease!, succeed, at(60_002));
    expect((await store.enqueue([input({ key: "k" })], at(60_003), noWorker)).outcomes).toEqual(["created"]);
  });

  it("retry keeps a key's promise: a final task is not queued again while another of its key is not final, nor twice in one call", async () => {
    await fresh();
    await store.enqueue([input({ key: "k" })], T0, noWorker);
    await store.cancel("1", at(1));
    const second = await store.enqueue([input({ key: "k" }), input({ key: "k", executor: "y" })], at(2), noWorker);
    expect(second.tasks.map((t) => t.id)).toEqual(["2", "3"]);
    const refused = await store.retry("1", at(3));
    expect(refused).toMatchObject({ queued: false, task: { id: "1", status: "cancelled" }, heldBy: { id: "2", status: "queued" } });
    expect(await store.get("1")).toMatchObject({ status: "cancelled" });
    // Both final: the first of the call is queued again, the second finds it holding the key.
    await store.cancel("2", at(4));
    const both = await store.retryMany(["2", "1"], at(5));
    expect(both.map((r) => [r!.task.id, r!.queued, r!.heldBy?.id])).toEqual([
      ["2", true, undefined],
      ["1", false, "2"],
    ]);
    expect((await store.enqueue([input({ key: "k" })], at(6), noWorker)).tasks.map((t) => t.id)).toEqual(["2"]);
    expect((await store.list({ statuses: ["queued"], key: "k" })).map((t) => [t.id, t.executor])).toEqual([
      ["2", "x"],
      ["3", "y"],
    ]);
  });

  it("a task after others waits until all succeeded; a failure or cancel cancels it, naming the task, and those after it in turn", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const [waiting] = (await store.enqueue([input({ after: ["1", "2"] })], T0, noWorker)).tasks;
    expect(waiting).toMatchObject({ id: "3", status: "queued", after: ["1", "2"], waitingFor: ["1", "2"] });
    const one = (await claimNext(store, ME, at(1)))!;
    const two = (await claimNext(store, OTHER, at(1)))!;
    expect(await claimNext(store, ME, at(1))).toBeNull();
    await store.settle(one.id, one.lease!, succeed, at(2));
    expect((await store.get("3"))!.waitingFor).toEqual(["2"]);
    await store.settle(two.id, two.lease!, succeed, at(3));
    expect((await claimNext(store, ME, at(4)))!.id).toBe("3");

    await store.enqueue([input()], T0, noWorker); // 4
    await store.enqueue([input({ after: ["4"] })], T0, noWorker); // 5
    await store.enqueue([input({ after: ["5"] })], T0, noWorker); // 6
    const four = (await claimNext(store, ME, at(5)))!;
    await store.settle(four.id, four.lease!, fail, at(6));
    expect(await store.get("5")).toMatchObject({ status: "cancelled", message: "cancelled: task 4, which it runs after, failed" });
    expect(await store.get("6")).toMatchObject({ status: "cancelled", message: "cancelled: task 5, which it runs after, was cancelled" });
    // Retried, a task cancelled this way runs at once: it waits for nothing more.
    expect((await store.retry("5", at(6)))!.task).toMatchObject({ status: "queued", waitingFor: [] });
    const five = (await claimNext(store, ME, at(6)))!;
    expect(five.id).toBe("5");
    await store.settle(five.id, five.lease!, succeed, at(6));

    // After a task already failed: cancelled at once. An unknown id: nothing stored.
    expect((await store.enqueue([input({ after: ["4"] })], at(7), noWorker)).tasks[0]).toMatchObject({ id: "7", status: "cancelled" });
    await expect(store.enqueue([input(), input({ after: ["99"] })], at(8), noWorker)).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(await store.get("8")).toBeNull();
    expect((await store.enqueue([input({ after: ["3"] })], at(9), noWorker)).tasks[0]).toMatchObject({ id: "8", waitingFor: ["3"] });
  });

  it("cancel, remove and forceEnd of a task cancel those waiting for it, in the same operation", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    await store.enqueue([input({ after: ["1"] }), input({ after: ["2"] }), input({ after: ["3"] })], T0, noWorker);
    await store.cancel("1", at(1));
    expect(await store.get("4")).toMatchObject({ status: "cancelled", message: "cancelled: task 1, which it runs after, was cancelled" });
    await store.remove(["2"], at(2));
    expect(await store.get("5")).toMatchObject({ status: "cancelled", message: "cancelled: task 2, which it runs after, was removed" });
    const three = (await claimNext(store, ME, at(3)))!;
    expect(three.id).toBe("3");
    await store.forceEnd("3", three.lease!, forcedOutcome(three, "cancelled", 5_000), at(4));
    expect(await store.get("6")).toMatchObject({ status: "cancelled" });
  });

  it("cancelMany and retryMany act on several tasks in one operation, one result per id, as cancel and retry", async () => {
    await fresh();
    await store.enqueue([input(), input({ runAt: at(60_000) }), input()], T0, noWorker);
    const running = (await claimNext(store, ME, at(1)))!;
    const cancelled = await store.cancelMany([running.id, "2", "3", "99"], at(2));
    expect(cancelled.map((r) => r && [r.task.id, r.task.status, r.effect])).toEqual([
      ["1", "running", "requested"],
      ["2", "cancelled", "cancelled"],
      ["3", "cancelled", "cancelled"],
      null,
    ]);
    expect((await store.cancelMany(["2"], at(3)))[0]).toMatchObject({ effect: "final" });
    const retried = await store.retryMany(["1", "2", "3", "99"], at(4));
    expect(retried.map((r) => r && [r.task.id, r.task.status, r.queued])).toEqual([
      ["1", "running", false],
      ["2", "queued", true],
      ["3", "queued", true],
      null,
    ]);
  });

  it("a recovered try that fails for good cancels the tasks after it", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    await store.enqueue([input({ after: ["1"] })], T0, noWorker);
    await claimNext(store, OTHER, at(1));
    await store.recover(at(2), await judged(store, at(2), otherIs({ liveness: "dead" })));
    expect(await store.get("1")).toMatchObject({ status: "failed" });
    expect(await store.get("2")).toMatchObject({ status: "cancelled", message: "cancelled: task 1, which it runs after, failed" });
  });

  it("a paused queue is claimed from by nobody and needs no worker; resume restarts it", async () => {
    await fresh();
    expect(await store.pausedQueues()).toEqual([]);
    expect(await store.pauseQueues(["x", "z"], true)).toEqual(["x", "z"]);
    await store.enqueue([input(), input({ executor: "y" })], T0, noWorker);
    const other = (await claimNext(store, ME, at(1)))!;
    expect(other.executor).toBe("y");
    expect(await claimNext(store, ME, at(2))).toBeNull();
    await store.settle(other.id, other.lease!, succeed, at(2));
    expect(await store.retireWorker("w", at(3), 0)).toMatchObject({ retired: true });
    expect((await store.enqueue([input()], at(4), slots(2))).workerSlot).toBeNull();
    expect(await store.pauseQueues(["x"], false)).toEqual(["z"]);
    expect(await store.pausedQueues()).toEqual(["z"]);
    expect((await claimNext(store, ME, at(5)))!.executor).toBe("x");
  });

  it("an idle worker stays while a task past its time waits behind a running try (its executor's limit), sleeping until that time", async () => {
    await fresh();
    await store.enqueue([input({ concurrency: 1, runAt: at(1_000) }), input()], T0, noWorker);
    expect((await claimNext(store, ME, at(1)))!.id).toBe("2");
    // Task 1 is due now, and held back by task 2's run: the worker is told when it was due, and stays.
    expect(await store.retireWorker("w", at(1_000), 0)).toEqual({ retired: false, nextDueAt: at(1_000).toISOString() });
    expect(await store.retireWorker("w", at(5_000), 0)).toEqual({ retired: false, nextDueAt: at(1_000).toISOString() });
  });

  it("concurrency: at most that many tasks of the executor run at once, whoever claims; others run beside them", async () => {
    await fresh();
    await store.enqueue(
      [input({ concurrency: 2 }), input({ concurrency: 2 }), input({ concurrency: 2 }), input({ executor: "y" }), input({ executor: "y" })],
      T0,
      noWorker,
    );
    const claimed = (await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 5 })).next;
    // Only the first task of a batch may have a limit: the rest are claimed one by one.
    expect(claimed.map((t) => t.id)).toEqual(["1"]);
    expect((await claimNext(store, OTHER, at(2)))!.id).toBe("2");
    expect((await claimNext(store, OTHER, at(3)))!.id).toBe("4");
    expect((await claimNext(store, OTHER, at(4)))!.id).toBe("5");
    expect(await claimNext(store, OTHER, at(5))).toBeNull();
    await store.settle("1", claimed[0]!.lease!, succeed, at(6));
    expect((await claimNext(store, OTHER, at(7)))!.id).toBe("3");
  });
}
