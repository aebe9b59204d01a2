// The JournalStore contract, importTasks, which `bgtask journal copy` writes a journal's tasks
// with.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import type { TaskRecord } from "../../../src/core/task.ts";
import { MemoryStore } from "../../../src/journal/memory/store.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, succeed, input, type StoreSuite } from "./shared.ts";

export function importTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  /** Tasks of another journal: one succeeded after a retry (history), one failed, one queued, one scheduled. */
  async function exported(): Promise<TaskRecord[]> {
    const source = new MemoryStore();
    await source.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "1s" }) }), input(), input(), input({ runAt: at(60_000) })], T0, noWorker);
    const first = (await claimNext(source, ME, at(1)))!;
    await source.settle(first.id, first.lease!, { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null }, at(2));
    const retried = (await claimNext(source, ME, at(1_500)))!;
    const second = (await claimNext(source, OTHER, at(1_600)))!;
    await source.settle(second.id, second.lease!, { kind: "failed", error: { message: "no", stack: null, where: null }, message: null }, at(1_700));
    await source.settle(retried.id, retried.lease!, succeed, at(3_000));
    return source.list({});
  }

  it("writes the records as they are, ids and history kept, with paused queues and schedule states; new ids come after", async () => {
    await fresh();
    const tasks = await exported();
    const copy = {
      tasks,
      pausedQueues: ["x"],
      schedules: { nightly: { slot: "2026-01-01T00:00:00.000Z", taskId: "3" } },
      counters: { x: { enqueued: 4, failed: 1 } },
    };
    expect(await store.importTasks(copy)).toEqual({ clashes: [] });
    for (const task of tasks) expect(await store.get(task.id)).toEqual(task);
    expect((await store.list({})).map((t) => t.id).sort()).toEqual(["1", "2", "3", "4"]);
    expect((await store.get("1"))!.history).toHaveLength(2);
    expect(await store.pausedQueues()).toEqual(["x"]);
    expect(await store.scheduleStates()).toEqual(copy.schedules);
    // The copied tasks count as nothing new: the source's counts come with them.
    expect(await store.counters()).toEqual(copy.counters);
    expect((await store.enqueue([input()], at(4_000), noWorker)).tasks[0]!.id).toBe("5");
    expect((await store.counters()).x).toEqual({ enqueued: 5, failed: 1 });
    // The queued one is claimed here as it would have been there (its queue resumed).
    await store.pauseQueues(["x"], false);
    expect((await claimNext(store, ME, at(5_000)))!.id).toBe("3");
  });

  it("a deep queue copied in is claimed whole, in id order, before what is enqueued after it", async () => {
    await fresh();
    const source = new MemoryStore();
    await source.enqueue(
      Array.from({ length: 1_200 }, (_, n) => input({ context: { n } })),
      T0,
      noWorker,
    );
    expect(await store.importTasks({ tasks: await source.list({}), pausedQueues: [], schedules: {}, counters: {} })).toEqual({ clashes: [] });
    expect((await store.stats(at(1), 1)).counts.x).toMatchObject({ queued: 1_200 });
    const [after] = (await store.enqueue([input()], at(1), noWorker)).tasks;
    expect(after!.id).toBe("1201");
    const claimed: string[] = [];
    for (;;) {
      const { next } = await store.exchange(ME, at(2), { ends: [], giveBack: [], claim: 100 });
      if (next.length === 0) break;
      claimed.push(...next.map((t) => t.id));
      await store.exchange(ME, at(2), { ends: next.map((t) => ({ id: t.id, lease: t.lease!, outcome: succeed })), giveBack: [], claim: 0 });
    }
    expect(claimed).toEqual(Array.from({ length: 1_201 }, (_, i) => String(i + 1)));
  });

  it("writes nothing when one of the ids is already a task here, and says which", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const tasks = await exported();
    expect(await store.importTasks({ tasks, pausedQueues: ["x"], schedules: {}, counters: { x: { enqueued: 9 } } })).toEqual({ clashes: ["1", "2"] });
    expect((await store.list({})).map((t) => t.id)).toEqual(["1", "2"]);
    expect((await store.get("1"))!.status).toBe("queued");
    expect(await store.pausedQueues()).toEqual([]);
    expect((await store.counters()).x).toEqual({ enqueued: 2 });
  });
}
