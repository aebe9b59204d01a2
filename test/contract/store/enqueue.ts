// The JournalStore contract, enqueue: ids and statuses of the tasks stored, and the worker slot an
// enqueue reserves.
import { expect, it } from "vitest";
import type { JournalStore } from "../../../src/journal/store.ts";
import { T0, at, noWorker, slots, input, type StoreSuite } from "./shared.ts";

export function enqueueTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("enqueue stores tasks with increasing numeric ids, all queued, and get/list return them", async () => {
    await fresh();
    const { tasks, workerSlot } = await store.enqueue([input({ context: { n: 1 } }), input({ context: { n: 2 } })], T0, noWorker);
    expect(tasks.map((t) => [t.id, t.status])).toEqual([
      ["1", "queued"],
      ["2", "queued"],
    ]);
    expect(workerSlot).toBeNull();
    const [third] = (await store.enqueue([input({ runAt: at(60_000) })], T0, noWorker)).tasks;
    expect(third).toMatchObject({ id: "3", status: "scheduled", nextRunAt: at(60_000).toISOString() });
    expect(await store.get("2")).toMatchObject({ id: "2", context: { n: 2 } });
    expect(await store.get("99")).toBeNull();
    expect((await store.list({})).map((t) => t.id)).toEqual(["1", "2", "3"]);
  });

  it("enqueue reserves a worker slot only while fewer than maxWorkers run and there is work for one more", async () => {
    await fresh();
    const first = (await store.enqueue([input()], T0, slots(2))).workerSlot;
    expect(first).not.toBeNull();
    expect((await store.enqueue([input()], T0, slots(2))).workerSlot).not.toBeNull();
    expect((await store.enqueue([input()], T0, slots(2))).workerSlot).toBeNull();
    // A slot the caller found dead is freed first; another host's workers do not count against this host's limit.
    expect((await store.enqueue([input()], T0, slots(2, [first!]))).workerSlot).not.toBeNull();
    expect((await store.enqueue([input()], T0, { ...slots(1), host: "there" })).workerSlot).not.toBeNull();
    expect((await store.survey("here")).slots).toHaveLength(2);
    expect((await store.survey("there")).slots).toMatchObject([{ host: "there", process: null }]);
    // A reservation whose worker never registered expires.
    expect((await store.enqueue([input()], at(15_000), slots(2))).workerSlot).not.toBeNull();
  });

  it("a worker of many places is wanted for each that many tasks of work: a second only once there is more than the first can run", async () => {
    await fresh();
    const tenEach = { ...slots(3), places: 10 };
    const many = (n: number) => Array.from({ length: n }, () => input());
    expect((await store.enqueue(many(4), T0, tenEach)).workerSlot).not.toBeNull();
    expect(await store.reserveWorker(T0, tenEach)).toBeNull();
    expect((await store.enqueue(many(6), T0, tenEach)).workerSlot).toBeNull();
    expect((await store.enqueue(many(1), T0, tenEach)).workerSlot).not.toBeNull();
    expect(await store.reserveWorker(T0, tenEach)).toBeNull();
    expect((await store.enqueue(many(15), T0, tenEach)).workerSlot).not.toBeNull();
    // Three on this host is its limit, whatever the work.
    expect((await store.enqueue(many(50), T0, tenEach)).workerSlot).toBeNull();
  });
}
