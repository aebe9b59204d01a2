// The JournalStore contract, workers: slots reserved, registered, retired and released, and the
// clock heartbeats are stamped on.
import { expect, it } from "vitest";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, slots, input, type StoreSuite } from "./shared.ts";

export function workersTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("workerSlots lists every slot on every host", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, slots(2));
    await store.registerWorker("w-there", { ...OTHER, host: "there" }, T0);
    const all = await store.workerSlots();
    expect(all.map((s) => s.host).sort()).toEqual(["here", "there"]);
    expect(all.find((s) => s.host === "there")).toMatchObject({ slot: "w-there", process: { pid: OTHER.pid } });
  });

  it("reserveWorker counts a schedule due within the window as work for one worker", async () => {
    await fresh();
    expect(await store.reserveWorker(T0, slots(2))).toBeNull();
    const slot = await store.reserveWorker(T0, { ...slots(2), scheduleDue: true });
    expect(slot).toEqual(expect.any(String));
    expect(await store.reserveWorker(T0, { ...slots(2), scheduleDue: true })).toBeNull();
  });

  it("registerWorker and retireWorker: a worker leaves only when nothing runnable or due soon remains", async () => {
    await fresh();
    await store.registerWorker("w", ME, T0);
    await store.enqueue([input()], T0, noWorker);
    expect(await store.retireWorker("w", at(1), 1000)).toEqual({ retired: false, nextDueAt: null });
    const claimed = (await claimNext(store, ME, at(1)))!;
    await store.settle(claimed.id, claimed.lease!, { kind: "succeeded", message: null, result: null }, at(2));
    await store.enqueue([input({ runAt: at(500) })], at(2), noWorker);
    expect(await store.retireWorker("w", at(3), 1000)).toEqual({ retired: false, nextDueAt: at(500).toISOString() });
    expect(await store.retireWorker("w", at(3), 100)).toEqual({ retired: true, nextDueAt: null });
  });

  it("reserveWorker frees the slot of a worker about to exit first; releaseWorker frees one unconditionally", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const a = (await store.reserveWorker(at(1), slots(1)))!;
    expect(a).toEqual(expect.any(String));
    expect(await store.reserveWorker(at(1), slots(1))).toBeNull();
    const b = (await store.reserveWorker(at(1), slots(1), a))!;
    expect(b).not.toBe(a);
    expect((await store.survey("here")).slots.map((s) => s.slot)).toEqual([b]);
    await store.releaseWorker(b);
    expect((await store.survey("here")).slots).toEqual([]);
  });

  it("registerWorker records the process in its slot (reserving it when nobody did), on its host", async () => {
    await fresh();
    expect(await store.reserveWorker(T0, slots(2))).toBeNull();
    await store.enqueue([input()], T0, noWorker);
    const reserved = (await store.reserveWorker(T0, slots(2)))!;
    await store.registerWorker(reserved, ME, at(1));
    await store.registerWorker("by-hand", { ...OTHER, host: "there" }, at(1));
    expect((await store.survey("here")).slots).toMatchObject([{ slot: reserved, host: "here", process: ME }]);
    expect((await store.survey("there")).slots).toMatchObject([{ slot: "by-hand", host: "there", process: { pid: OTHER.pid } }]);
    // A registered worker never expires like a reservation: it is freed as dead, by the caller's word.
    expect(await store.reserveWorker(at(60_000), slots(1))).toBeNull();
    await store.recover(at(60_000), { verdicts: [], deadSlots: [reserved] });
    expect((await store.survey("here")).slots).toEqual([]);
  });

  it("clock: beside its journal a host stamps heartbeats on its own clock (no offset), and the journal started in the past if it says when", async () => {
    await fresh();
    const clock = await store.clock();
    expect(clock.offsetMs).toBe(0);
    if (clock.startedAt !== null) expect(clock.startedAt).toBeLessThanOrEqual(Date.now());
    await store.enqueue([input()], T0, noWorker);
    const running = (await claimNext(store, ME, at(1)))!;
    expect(running.heartbeatAt).toBe(at(1).toISOString());
    await store.report(running.id, running.lease!, {}, at(2));
    expect((await store.get(running.id))!.heartbeatAt).toBe(at(2).toISOString());
  });
}
