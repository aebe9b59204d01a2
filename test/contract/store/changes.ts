// The JournalStore contract, change watching: watchChanges, until closed or the store is.
import { expect, it } from "vitest";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, noWorker, input, type StoreSuite } from "./shared.ts";

export function changesTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("watchChanges tells the ids of the tasks that changed (or null when the store cannot tell), until closed", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    const seen: Array<readonly string[] | null> = [];
    const watch = store.watchChanges((ids) => seen.push(ids));
    const task = (await claimNext(store, ME, at(1)))!;
    await expect.poll(() => seen.flatMap((ids) => ids ?? []), { timeout: 5_000 }).toContain(task.id);
    const [added] = (await store.enqueue([input()], at(2), noWorker)).tasks;
    await expect.poll(() => seen.flatMap((ids) => ids ?? []), { timeout: 5_000 }).toContain(added!.id);
    watch.close();
    const count = seen.length;
    await store.cancel(added!.id, at(3));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seen).toHaveLength(count);
  });

  it("location names the journal; close() stops the store's watchers", async () => {
    await fresh();
    expect(store.location).toEqual(expect.any(String));
    const seen: Array<readonly string[] | null> = [];
    store.watchChanges((ids) => seen.push(ids));
    await store.close();
    // A second store on the same journal may still write; this one no longer listens.
    await store.enqueue([input()], T0, noWorker).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(seen).toEqual([]);
  });
}
