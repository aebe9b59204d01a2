// The JournalStore contract, fireSchedules: each cron slot's task made once, whoever fires it.
import { expect, it } from "vitest";
import { NO_RETRY } from "../../../src/core/retry-policy.ts";
import type { Schedule } from "../../../src/core/schedule.ts";
import type { FireRequest, JournalStore } from "../../../src/journal/store.ts";
import { at, type StoreSuite } from "./shared.ts";

export function schedulesTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  const EVERY_2S: Schedule = { name: "two", cron: "*/2 * * * * *", timezone: null, executor: "x", context: { k: 1 }, catchUpMs: null };
  const request = (schedule: Schedule = EVERY_2S, onTimeMs = 5_000): FireRequest => ({
    firings: [{ schedule, task: { executor: schedule.executor, context: schedule.context, serialKey: null, retry: NO_RETRY, timeoutMs: null } }],
    onTimeMs,
  });
  const slotsOf = (tasks: { schedule?: { slot: string } | null }[]) => tasks.map((t) => t.schedule!.slot);

  it("makes one queued task per due slot, records the last slot fired with its task, and fires nothing twice", async () => {
    await fresh();
    expect(await store.scheduleStates()).toEqual({});
    // A schedule never fired starts now: its latest slot fires, not the earlier ones of the on-time window.
    const first = await store.fireSchedules(request(), at(5_000));
    expect(slotsOf(first)).toEqual(["2026-01-01T00:00:04.000Z"]);
    expect(first[0]).toMatchObject({ status: "queued", executor: "x", context: { k: 1 }, schedule: { name: "two" } });
    expect(await store.scheduleStates()).toEqual({ two: { slot: "2026-01-01T00:00:04.000Z", taskId: first[0]!.id } });
    expect(await store.fireSchedules(request(), at(5_500))).toEqual([]);
    // Late but within the on-time window: every slot since the last one fires, once.
    expect(slotsOf(await store.fireSchedules(request(), at(8_500)))).toEqual(["2026-01-01T00:00:06.000Z", "2026-01-01T00:00:08.000Z"]);
    expect((await store.get(first[0]!.id))!.schedule).toEqual({ name: "two", slot: "2026-01-01T00:00:04.000Z" });
  });

  it("concurrent firings of the same slots make each slot's task once", async () => {
    await fresh();
    await store.fireSchedules(request(), at(0));
    const fired = await Promise.all(Array.from({ length: 6 }, (_, i) => store.fireSchedules(request(), at(4_000 + i * 1_000))));
    const all = slotsOf(fired.flat());
    expect(all.sort()).toEqual(["2026-01-01T00:00:02.000Z", "2026-01-01T00:00:04.000Z", "2026-01-01T00:00:06.000Z", "2026-01-01T00:00:08.000Z"]);
    const queued = slotsOf(await store.list({ statuses: ["queued"] }));
    expect(new Set(queued).size).toBe(queued.length);
    expect(queued).toHaveLength(1 + 4);
  });

  it("after downtime skips the missed slots without catchUp, and runs those within catchUp once each", async () => {
    await fresh();
    await store.fireSchedules(request(), at(0));
    // 60 s later, the on-time window 5 s: only the slots of the last 5 s fire.
    expect(slotsOf(await store.fireSchedules(request(), at(60_000)))).toEqual([
      "2026-01-01T00:00:56.000Z",
      "2026-01-01T00:00:58.000Z",
      "2026-01-01T00:01:00.000Z",
    ]);
    const catchingUp = { ...EVERY_2S, catchUpMs: 10_000 };
    const caught = slotsOf(await store.fireSchedules(request(catchingUp), at(120_000)));
    expect(caught).toHaveLength(6);
    expect(caught[0]).toBe("2026-01-01T00:01:50.000Z");
    expect(caught.at(-1)).toBe("2026-01-01T00:02:00.000Z");
    expect(await store.fireSchedules(request(catchingUp), at(120_000))).toEqual([]);
  });
}
