// The JournalStore contract, events: one per transition of a task (core/events.ts), in the order
// written, each with a cursor the feed resumes after, through as many writes as it takes the file
// journal to fold its log away.
import { expect, it } from "vitest";
import type { TaskEvent } from "../../../src/core/events.ts";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { BadCursorError } from "../../../src/errors.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, succeed, input, judged, otherIs, type StoreSuite } from "./shared.ts";

const failed = { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null } as const;

/** Every event kept, read a page at a time from the oldest. */
async function allEvents(store: JournalStore, page = 1_000): Promise<TaskEvent[]> {
  const events: TaskEvent[] = [];
  for (;;) {
    const next = await store.events(events.at(-1)?.cursor ?? null, page);
    if (next.length === 0) return events;
    events.push(...next);
  }
}

const kinds = (events: readonly TaskEvent[], id: string) => events.filter((e) => e.taskId === id).map((e) => e.kind);

export function eventsTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("logs each transition in order, with what it carries", async () => {
    await fresh();
    expect(await store.events(null, 10)).toEqual([]);
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "1s" }) }), input({ executor: "y" })], T0, noWorker);
    const first = (await claimNext(store, ME, at(1)))!;
    await store.report(first.id, first.lease!, { progress: 0.5, message: "half" }, at(2));
    await store.report(first.id, first.lease!, { attributes: { a: 1 } }, at(3));
    await store.settle(first.id, first.lease!, failed, at(4));
    const again = (await claimNext(store, ME, at(2_000)))!;
    await store.settle(again.id, again.lease!, succeed, at(2_001));
    await store.cancel("2", at(2_002));
    await store.retry("2", at(2_003));
    const events = await allEvents(store);
    expect(events.map(({ cursor: _, ...e }) => e)).toEqual([
      { at: at(0).toISOString(), kind: "enqueued", taskId: "1", executor: "x", try: 0, status: "queued" },
      { at: at(0).toISOString(), kind: "enqueued", taskId: "2", executor: "y", try: 0, status: "queued" },
      { at: at(1).toISOString(), kind: "started", taskId: "1", executor: "x", try: 1, status: "running" },
      { at: at(2).toISOString(), kind: "progress", taskId: "1", executor: "x", try: 1, status: "running", progress: 0.5, message: "half" },
      {
        at: at(4).toISOString(),
        kind: "retry-scheduled",
        taskId: "1",
        executor: "x",
        try: 1,
        status: "scheduled",
        error: "boom",
        nextRunAt: at(1_004).toISOString(),
      },
      { at: at(2_000).toISOString(), kind: "started", taskId: "1", executor: "x", try: 2, status: "running" },
      { at: at(2_001).toISOString(), kind: "succeeded", taskId: "1", executor: "x", try: 2, status: "succeeded" },
      { at: at(2_002).toISOString(), kind: "cancelled", taskId: "2", executor: "y", try: 0, status: "cancelled" },
      { at: at(2_003).toISOString(), kind: "retried", taskId: "2", executor: "y", try: 0, status: "queued" },
    ]);
    expect(new Set(events.map((e) => e.cursor)).size).toBe(events.length);
  });

  it("resumes after any cursor with the rest, a page at a time; a cursor it did not make is refused", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    for (let i = 1; i <= 3; i++) {
      const task = (await claimNext(store, ME, at(i)))!;
      await store.settle(task.id, task.lease!, succeed, at(i));
    }
    const events = await allEvents(store);
    expect(events).toHaveLength(9);
    for (const [i, event] of events.entries()) expect(await store.events(event.cursor, 100)).toEqual(events.slice(i + 1));
    expect(await allEvents(store, 2)).toEqual(events);
    // A cursor past every event made is another journal's: this one's last event's, one higher.
    const ahead = events.at(-1)!.cursor.replace(/^\d+/, (n) => String(Number(n) + 1));
    expect(await store.events(events.at(-1)!.cursor, 10)).toEqual([]);
    for (const bad of ["x", "-1", "1.5.5", "", "9".repeat(30), ahead]) {
      await expect(store.events(bad, 10)).rejects.toBeInstanceOf(BadCursorError);
    }
  });

  it("a recovered try logs recovered after how it ended; a try given back logs given-back", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const lost = (await claimNext(store, OTHER, at(1)))!;
    const recovery = await judged(store, at(2), otherIs({ liveness: "dead" }));
    const next = (await claimNext(store, ME, at(2), { recovery }))!;
    await store.exchange(ME, at(3), { ends: [], giveBack: [{ id: next.id, lease: next.lease! }], claim: 0 });
    const events = await allEvents(store);
    expect(kinds(events, lost.id)).toEqual(["enqueued", "started", "failed", "recovered"]);
    expect(events.find((e) => e.kind === "recovered")).toMatchObject({ status: "failed", error: expect.stringContaining("the worker running this task died") });
    expect(kinds(events, next.id)).toEqual(["enqueued", "started", "given-back"]);
  });

  it("keeps every event through enough writes to fold the file journal's log away, in order, each once", async () => {
    await fresh();
    const pad = "p".repeat(2_000);
    for (let batch = 0; batch < 4; batch++) {
      await store.enqueue(
        Array.from({ length: 50 }, (_, i) => input({ context: { batch, i, pad } })),
        at(batch),
        noWorker,
      );
      for (;;) {
        const { next } = await store.exchange(ME, at(batch), { ends: [], giveBack: [], claim: 25 });
        if (next.length === 0) break;
        await store.exchange(ME, at(batch), { ends: next.map((t) => ({ id: t.id, lease: t.lease!, outcome: succeed })), giveBack: [], claim: 0 });
      }
    }
    const events = await allEvents(store, 150);
    expect(events).toHaveLength(600);
    for (let id = 1; id <= 200; id++) expect(kinds(events, String(id))).toEqual(["enqueued", "started", "succeeded"]);
    const middle = events[299]!;
    expect(await allEvents(store, 1_000).then(() => store.events(middle.cursor, 1_000))).toEqual(events.slice(300));
  });
}
