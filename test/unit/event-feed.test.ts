// The event feed's loop (client/events.ts) over the memory store: pages until the newest event,
// resumes after a cursor with no gap and no duplicate, follows across an idle wait woken by the
// store's change notices (or, when one is lost, by its slow poll), and ends on its signal.
import { afterEach, describe, expect, it, vi } from "vitest";
import { eventFeed, eventPages, EVENT_PAGE } from "../../src/client/events.ts";
import type { Session } from "../../src/client/session.ts";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import type { NewTask } from "../../src/core/task.ts";
import { MemoryStore } from "../../src/journal/memory/store.ts";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const input: NewTask = { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null };

/** The feed reads the store alone; the session's config is never looked at. */
const sessionOf = (store: MemoryStore) => ({ store }) as unknown as Session;

async function enqueue(store: MemoryStore, count: number): Promise<string[]> {
  const inputs = Array.from({ length: count }, () => input);
  const { tasks } = await store.enqueue(inputs, NOW, null);
  return tasks.map((t) => t.id);
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the event feed", () => {
  it("reads every event kept, in pages, then ends without --follow", async () => {
    const store = new MemoryStore();
    const ids = await enqueue(store, EVENT_PAGE * 2 + 5);
    const pages = await collect(eventPages(sessionOf(store)));
    expect(pages.map((p) => p.length)).toEqual([EVENT_PAGE, EVENT_PAGE, 5]);
    const events = pages.flat();
    expect(events.map((e) => e.taskId)).toEqual(ids);
    expect(events.every((e) => e.kind === "enqueued")).toBe(true);
  });

  it("resumes after a cursor: the two reads together are the whole feed, once each", async () => {
    const store = new MemoryStore();
    await enqueue(store, 7);
    const first = (await collect(eventFeed(sessionOf(store)))).slice(0, 3);
    await enqueue(store, 4);
    const rest = await collect(eventFeed(sessionOf(store), { since: first.at(-1)!.cursor }));
    const whole = await collect(eventFeed(sessionOf(store)));
    expect([...first, ...rest]).toEqual(whole);
    expect(new Set(whole.map((e) => e.cursor)).size).toBe(11);
  });

  it("refuses a cursor the store did not make before any event", async () => {
    const store = new MemoryStore();
    await enqueue(store, 2);
    await expect(collect(eventFeed(sessionOf(store), { since: "nope" }))).rejects.toMatchObject({ code: "EBADCURSOR", exitCode: 2 });
  });

  it("with follow, waits on an idle journal without reading it, hands out what is written next, and ends on its signal", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore();
    await enqueue(store, 1);
    const reads = vi.spyOn(store, "events");
    const stop = new AbortController();
    const feed = eventFeed(sessionOf(store), { follow: true, signal: stop.signal });
    expect((await feed.next()).value).toMatchObject({ kind: "enqueued", taskId: "1" });
    const next = feed.next();
    // Idle until just before the slow poll: no read at all, however long that is.
    await vi.advanceTimersByTimeAsync(4_999);
    expect(reads).toHaveBeenCalledTimes(1);
    await enqueue(store, 1);
    expect((await next).value).toMatchObject({ kind: "enqueued", taskId: "2" });
    const ended = feed.next();
    stop.abort();
    expect(await ended).toEqual({ done: true, value: undefined });
  });

  it("with follow, a lost change notice delays an event to the slow poll, never drops it", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const store = new MemoryStore();
    vi.spyOn(store, "watchChanges").mockReturnValue({ close: () => undefined });
    const stop = new AbortController();
    const feed = eventFeed(sessionOf(store), { follow: true, signal: stop.signal });
    const next = feed.next();
    const reads = vi.spyOn(store, "events");
    await enqueue(store, 1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await next).value).toMatchObject({ kind: "enqueued", taskId: "1" });
    expect(reads).toHaveBeenCalled();
    stop.abort();
    await feed.return(undefined);
  });
});
