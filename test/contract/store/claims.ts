// The JournalStore contract, claims and tries: claimNext, report, settle, forceEnd and exchange,
// each under its lease.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { forcedOutcome } from "../../../src/core/transitions.ts";
import { LeaseLostError } from "../../../src/errors.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, succeed, input, type StoreSuite } from "./shared.ts";

export function claimsTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("claimNext takes the oldest runnable task for a worker, with a lease; null when nothing is runnable", async () => {
    await fresh();
    await store.enqueue([input({ runAt: at(60_000) }), input(), input()], T0, noWorker);
    const first = await claimNext(store, ME, at(1));
    expect(first).toMatchObject({ id: "2", status: "running", tries: 1, worker: ME });
    expect(first!.lease).toEqual(expect.any(String));
    expect((await claimNext(store, ME, at(2)))!.id).toBe("3");
    expect(await claimNext(store, ME, at(3))).toBeNull();
    expect((await claimNext(store, ME, at(60_000)))!.id).toBe("1");
  });

  it("claimNext keeps tasks with a busy serial key waiting, in order", async () => {
    await fresh();
    await store.enqueue([input({ serialKey: "k" }), input({ serialKey: "k" }), input()], T0, noWorker);
    expect((await claimNext(store, ME, at(1)))!.id).toBe("1");
    expect((await claimNext(store, OTHER, at(2)))!.id).toBe("3");
    expect(await claimNext(store, OTHER, at(3))).toBeNull();
  });

  it("report updates a running task under its lease and refuses any other lease", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    const claimed = (await claimNext(store, ME, at(1)))!;
    await store.report(claimed.id, claimed.lease!, { progress: 40, message: "copying", attributes: { a: 1 } }, at(2));
    await store.report(claimed.id, claimed.lease!, { attributes: { b: 2 } }, at(3));
    expect(await store.get(claimed.id)).toMatchObject({ progress: 40, message: "copying", attributes: { a: 1, b: 2 }, heartbeatAt: at(3).toISOString() });
    await expect(store.report(claimed.id, "not-the-lease", { progress: 99 }, at(4))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.report("99", claimed.lease!, { progress: 99 }, at(4))).rejects.toBeInstanceOf(LeaseLostError);
    expect((await store.get(claimed.id))!.progress).toBe(40);
  });

  it("settle ends the try; a final task moves to the history and get/list still find it", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const claimed = (await claimNext(store, ME, at(1)))!;
    const done = await store.settle(claimed.id, claimed.lease!, { kind: "succeeded", message: "ok", result: { n: 1 } }, at(2));
    expect(done).toMatchObject({ status: "succeeded", completed: true, result: { n: 1 }, lease: null });
    expect(await store.get(claimed.id)).toMatchObject({ id: claimed.id, status: "succeeded", message: "ok", result: { n: 1 } });
    expect((await store.list({})).map((t) => [t.id, t.status])).toEqual([
      ["1", "succeeded"],
      ["2", "queued"],
    ]);
    // A settled try's lease is spent: a late second settle or report is refused.
    await expect(store.settle(claimed.id, claimed.lease!, { kind: "succeeded", message: null, result: null }, at(3))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.report(claimed.id, claimed.lease!, { progress: 1 }, at(3))).rejects.toBeInstanceOf(LeaseLostError);
  });

  it("a failed try with tries left is scheduled again and claimed as the next try", async () => {
    await fresh();
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "10s" }) })], T0, noWorker);
    const first = (await claimNext(store, ME, at(1)))!;
    const error = { message: "boom", stack: null, where: null };
    expect(await store.settle(first.id, first.lease!, { kind: "failed", error, message: null }, at(2))).toMatchObject({ status: "scheduled", tries: 1 });
    expect(await claimNext(store, ME, at(3))).toBeNull();
    const second = (await claimNext(store, ME, at(10_002)))!;
    expect(second).toMatchObject({ id: first.id, tries: 2 });
    expect(second.lease).not.toBe(first.lease);
    await expect(store.report(first.id, first.lease!, { progress: 5 }, at(10_003))).rejects.toBeInstanceOf(LeaseLostError);
  });

  it("forceEnd ends a try only while its lease holds it", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    const running = (await claimNext(store, OTHER, at(1)))!;
    const outcome = forcedOutcome(running, "cancelled", 5_000);
    expect(await store.forceEnd(running.id, "not-the-lease", outcome, at(2))).toBeNull();
    expect(await store.forceEnd(running.id, running.lease!, outcome, at(2))).toMatchObject({ id: running.id, status: "cancelled", lease: null });
    expect(await store.forceEnd(running.id, running.lease!, outcome, at(3))).toBeNull();
    // Its worker's next exchange finds the lease lost and claims nothing: it cannot move on before it is killed.
    await store.enqueue([input()], at(3), noWorker);
    const late = await store.exchange(OTHER, at(4), { ends: [{ id: running.id, lease: running.lease!, outcome: succeed }], giveBack: [], claim: 1 });
    expect(late).toMatchObject({ settled: [null], next: [] });
  });

  it("a claim's filter passes over excluded tasks and those whose timeout outlasts maxTimeoutMs, leaving them queued", async () => {
    await fresh();
    await store.enqueue([input(), input({ timeoutMs: 60_000 }), input({ timeoutMs: 1_000 }), input()], T0, noWorker);
    const filter = { excludeIds: ["1"], maxTimeoutMs: 10_000 };
    expect((await claimNext(store, ME, at(1), { filter }))!.id).toBe("3");
    expect((await claimNext(store, ME, at(2), { filter }))!.id).toBe("4");
    expect(await claimNext(store, ME, at(3), { filter })).toBeNull();
    expect((await store.list({ statuses: ["queued"] })).map((t) => t.id)).toEqual(["1", "2"]);
  });

  it("a claim's executors filter takes only tasks of those executors", async () => {
    await fresh();
    await store.enqueue([input({ executor: "a" }), input({ executor: "b" }), input({ executor: "c" })], T0, noWorker);
    const filter = { executors: ["b", "c"] };
    expect((await claimNext(store, ME, at(1), { filter }))!.id).toBe("2");
    expect((await claimNext(store, ME, at(2), { filter }))!.id).toBe("3");
    expect(await claimNext(store, ME, at(3), { filter })).toBeNull();
    expect((await store.list({ statuses: ["queued"] })).map((t) => t.executor)).toEqual(["a"]);
  });

  it("exchange records tries and claims the next task in one write; a lost lease claims nothing", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const first = (await claimNext(store, ME, at(1)))!;
    const done = { id: first.id, lease: first.lease!, outcome: { kind: "succeeded", message: "ok", result: 1 } } as const;
    const { settled, next } = await store.exchange(ME, at(2), { ends: [done], giveBack: [], claim: 1 });
    expect(settled).toMatchObject([{ id: "1", status: "succeeded", message: "ok", result: 1 }]);
    expect(next).toMatchObject([{ id: "2", status: "running" }]);
    const stale = await store.exchange(ME, at(3), { ends: [done], giveBack: [], claim: 1 });
    expect(stale).toEqual({ settled: [null], next: [], recovered: null });
    expect((await store.get("3"))!.status).toBe("queued");
  });

  it("exchange claims several fresh plain tasks at once, in claim order, stopping before one that cannot be given back", async () => {
    await fresh();
    await store.enqueue([input(), input(), input({ serialKey: "k" }), input()], T0, noWorker);
    const { next } = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 8 });
    expect(next.map((t) => [t.id, t.status, t.tries])).toEqual([
      ["1", "running", 1],
      ["2", "running", 1],
    ]);
    expect(new Set(next.map((t) => t.lease)).size).toBe(2);
    // The serial task heads the line now: claimed first, alone ahead of nothing.
    expect((await store.exchange(ME, at(2), { ends: [], giveBack: [], claim: 8 })).next.map((t) => t.id)).toEqual(["3", "4"]);
  });

  it("exchange gives back claimed tries that never started: queued as they were, no try counted; a cancel asked meanwhile ends them", async () => {
    await fresh();
    const [one] = (await store.enqueue([input(), input(), input()], T0, noWorker)).tasks;
    const { next } = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 3 });
    await store.cancel("3", at(2));
    const end = { id: next[0]!.id, lease: next[0]!.lease!, outcome: { kind: "succeeded", message: null, result: null } } as const;
    const back = next.slice(1).map((t) => ({ id: t.id, lease: t.lease! }));
    const result = await store.exchange(ME, at(3), { ends: [end], giveBack: back, claim: 0 });
    expect(result.next).toEqual([]);
    expect(await store.get("2")).toEqual({ ...one, id: "2" });
    expect(await store.get("3")).toMatchObject({ status: "cancelled", tries: 0, history: [] });
    // A lease no longer held is left alone.
    await store.exchange(ME, at(4), { ends: [], giveBack: back, claim: 0 });
    expect((await claimNext(store, OTHER, at(5)))!).toMatchObject({ id: "2", tries: 1 });
  });
}
