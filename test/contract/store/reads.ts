// The JournalStore contract, reading tasks: get, list, page and stats.
import { expect, it } from "vitest";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, noWorker, succeed, input, type StoreSuite } from "./shared.ts";

export function readsTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("page orders the active tasks newest first or in claim order, then the finished newest finished first, and filters and searches", async () => {
    await fresh();
    await store.enqueue(
      [input({ executor: "a" }), input({ executor: "b" }), input({ executor: "a" }), input({ executor: "a", runAt: at(60_000) })],
      T0,
      noWorker,
    );
    const first = (await claimNext(store, ME, at(1)))!;
    await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "boom <b>", stack: null, where: null }, message: "boom <b>" }, at(2));
    const second = (await claimNext(store, ME, at(3)))!;
    await store.report(second.id, second.lease!, { message: "Copying rows" }, at(4));
    const ids = async (filter: Partial<Parameters<JournalStore["page"]>[0]>) =>
      (await store.page({ order: "newest", offset: 0, limit: 10, ...filter })).map((t) => t.id);
    expect(await ids({})).toEqual(["4", "3", "2", "1"]);
    // Claim order: the running task first, then the next in line, the scheduled one last.
    expect(await ids({ order: "claim" })).toEqual(["2", "3", "4", "1"]);
    expect(await ids({ offset: 1, limit: 2 })).toEqual(["3", "2"]);
    expect(await ids({ statuses: ["failed"] })).toEqual(["1"]);
    expect(await ids({ executor: "b" })).toEqual(["2"]);
    expect(await ids({ search: "copying" })).toEqual(["2"]);
    expect(await ids({ search: "3" })).toEqual(["3"]);
    expect(await ids({ search: "nothing like it" })).toEqual([]);
  });

  it("page's search finds a piece of a text anywhere in a task's context, in any case, and not in its keys or numbers", async () => {
    await fresh();
    await store.enqueue(
      [
        input({ context: { to: "Ada@Example.com" } }),
        input({ context: { batch: { rows: [{ name: "Grace Hopper" }, 7] } } }),
        input({ context: { ada: 1, n: 1234 } }),
      ],
      T0,
      noWorker,
    );
    const ids = async (search: string) => (await store.page({ order: "newest", offset: 0, limit: 10, search })).map((t) => t.id);
    expect(await ids("ada@example")).toEqual(["1"]);
    expect(await ids("HOPPER")).toEqual(["2"]);
    expect(await ids("ada")).toEqual(["1"]);
    expect(await ids("123")).toEqual([]);
    expect(await ids("rows")).toEqual([]);
  });

  it("activity counts the tasks that ended in each span by executor and status, with the waits and runs of those that ran", async () => {
    await fresh();
    await store.enqueue([input({ executor: "a" }), input({ executor: "a" }), input({ executor: "b" })], T0, noWorker);
    const first = (await claimNext(store, ME, at(10_000)))!;
    await store.settle(first.id, first.lease!, succeed, at(70_000));
    const second = (await claimNext(store, ME, at(100_000)))!;
    await store.settle(second.id, second.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(130_000));
    await store.cancel("3", at(150_000));
    const none = { succeeded: 0, failed: 0, cancelled: 0, ran: 0, waitMs: 0, runMs: 0 };
    expect(await store.activity(at(180_000), { bucketMs: 60_000, buckets: 3 })).toEqual({
      a: [none, { ...none, succeeded: 1, ran: 1, waitMs: 10_000, runMs: 60_000 }, { ...none, failed: 1, ran: 1, waitMs: 100_000, runMs: 30_000 }],
      b: [none, none, { ...none, cancelled: 1 }],
    });
    // A span ends at its last instant: what ended at 70 s is in the span (60 s, 120 s] only.
    expect(await store.activity(at(120_000), { bucketMs: 60_000, buckets: 1 })).toEqual({
      a: [{ ...none, succeeded: 1, ran: 1, waitMs: 10_000, runMs: 60_000 }],
    });
    expect(await store.activity(at(60_000), { bucketMs: 60_000, buckets: 1 })).toEqual({});
  });

  it("stats counts tasks by executor and status, the oldest queued task, and the tasks finished per minute", async () => {
    await fresh();
    expect(await store.stats(T0, 3)).toEqual({ counts: {}, oldestQueued: {}, finishedPerMinute: [0, 0, 0] });
    await store.enqueue([input({ executor: "a" }), input({ executor: "a" })], T0, noWorker);
    await store.enqueue([input({ executor: "b" })], at(1_000), noWorker);
    const claimed = (await claimNext(store, ME, at(2_000)))!;
    await store.settle(claimed.id, claimed.lease!, succeed, at(65_000));
    const stats = await store.stats(at(150_000), 3);
    expect(stats).toEqual({
      counts: { a: { succeeded: 1, queued: 1 }, b: { queued: 1 } },
      oldestQueued: { a: T0.toISOString(), b: at(1_000).toISOString() },
      finishedPerMinute: [0, 1, 0],
    });
    // A final task queued again is counted once, as queued; a removed one not at all.
    await store.retry(claimed.id, at(151_000));
    expect((await store.stats(at(152_000), 3)).counts).toEqual({ a: { queued: 2 }, b: { queued: 1 } });
    await store.remove(["3"], at(153_000));
    expect((await store.stats(at(154_000), 3)).counts).toEqual({ a: { queued: 2 } });
  });

  it("list filters by status and executor, and keeps active tasks within a limit", async () => {
    await fresh();
    await store.enqueue([input({ executor: "a" }), input({ executor: "b" }), input({ executor: "a" }), input({ executor: "b" })], T0, noWorker);
    for (let i = 0; i < 2; i++) {
      const claimed = (await claimNext(store, ME, at(1)))!;
      await store.settle(claimed.id, claimed.lease!, { kind: "succeeded", message: null, result: null }, at(2));
    }
    expect((await store.list({ statuses: ["succeeded"] })).map((t) => t.id)).toEqual(["1", "2"]);
    expect((await store.list({ statuses: ["queued"] })).map((t) => t.id)).toEqual(["3", "4"]);
    expect((await store.list({ executor: "a" })).map((t) => t.id)).toEqual(["1", "3"]);
    expect((await store.list({ statuses: ["succeeded"], executor: "b" })).map((t) => t.id)).toEqual(["2"]);
    // The limit takes active tasks first (next in line first), then fills up with the newest finished ones.
    expect((await store.list({ limit: 3 })).map((t) => t.id)).toEqual(["2", "3", "4"]);
    expect((await store.list({ limit: 1 })).map((t) => t.id)).toEqual(["3"]);
  });

  it("list takes ids too, with the other filters", async () => {
    await fresh();
    await store.enqueue([input({ executor: "a" }), input({ executor: "b" }), input({ executor: "a" })], T0, noWorker);
    const done = (await claimNext(store, ME, at(1)))!;
    await store.settle(done.id, done.lease!, succeed, at(2));
    expect((await store.list({ ids: ["3", "1", "99"] })).map((t) => t.id)).toEqual(["1", "3"]);
    expect((await store.list({ ids: ["1", "2", "3"], executor: "a", statuses: ["queued"] })).map((t) => t.id)).toEqual(["3"]);
    expect((await store.list({ ids: ["1", "2", "3"], limit: 1 })).map((t) => t.id)).toEqual(["2"]);
  });
}
