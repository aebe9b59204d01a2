// The JournalStore contract, the tick mutex: one tick at a time, per cluster or per host.
import { expect, it } from "vitest";
import type { TickHolder } from "../../../src/core/recovery.ts";
import type { JournalStore } from "../../../src/journal/store.ts";
import { at, ME, OTHER, type StoreSuite } from "./shared.ts";

export function tickMutexTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("the tick mutex: taken when free, kept by its holder, taken over only from the holder the caller judged gone, given back by its holder", async () => {
    await fresh();
    const first: TickHolder = { process: ME, since: at(0).toISOString(), expiresAt: at(60_000).toISOString() };
    const second: TickHolder = { process: OTHER, since: at(1).toISOString(), expiresAt: at(61_000).toISOString() };
    expect(await store.tickHolder("cluster")).toBeNull();
    expect(await store.acquireTick("cluster", first, null)).toBeNull();
    expect(await store.tickHolder("cluster")).toEqual(first);
    expect(await store.acquireTick("cluster", second, null)).toEqual(first);
    expect(await store.acquireTick("cluster", second, second)).toEqual(first);
    await store.releaseTick("cluster", second);
    expect(await store.tickHolder("cluster")).toEqual(first);
    expect(await store.acquireTick("cluster", second, first)).toBeNull();
    expect(await store.tickHolder("cluster")).toEqual(second);
    await store.releaseTick("cluster", second);
    expect(await store.tickHolder("cluster")).toBeNull();
  });

  it("tick mutexes of different names are held apart: one per host under tickScope host, beside the cluster's", async () => {
    await fresh();
    const first: TickHolder = { process: ME, since: at(0).toISOString(), expiresAt: at(60_000).toISOString() };
    const second: TickHolder = { process: { ...OTHER, host: "there" }, since: at(1).toISOString(), expiresAt: at(61_000).toISOString() };
    expect(await store.acquireTick("host:here", first, null)).toBeNull();
    // The file journal serves one machine: it keeps one mutex whatever the name.
    const apart = store.location.startsWith("postgres") || store.location === "memory";
    expect(await store.acquireTick("host:there", second, null)).toEqual(apart ? null : first);
    expect(await store.tickHolder("host:there")).toEqual(apart ? second : first);
    await store.releaseTick("host:here", first);
    expect(await store.tickHolder("host:here")).toBeNull();
    expect(await store.tickHolder("host:there")).toEqual(apart ? second : null);
  });
}
