// The JournalStore contract, recovery: a lost worker's tries, judged from facts as
// worker/recovery.ts judges them, and the survey and tryControl rows it reads.
import { expect, it } from "vitest";
import { normaliseRetry } from "../../../src/core/retry-policy.ts";
import { LeaseLostError } from "../../../src/errors.ts";
import { claimNext, type JournalStore } from "../../../src/journal/store.ts";
import { T0, at, ME, OTHER, noWorker, succeed, input, facts, judged, otherIs, type StoreSuite } from "./shared.ts";

export function recoveryTests(suite: StoreSuite): void {
  let store: JournalStore;
  const fresh = async () => {
    store = await suite.fresh();
  };

  it("a claim applies the caller's recovery first: a dead worker's try is failed and its lease fenced", async () => {
    await fresh();
    await store.enqueue([input(), input()], T0, noWorker);
    const lost = (await claimNext(store, OTHER, at(1)))!;
    const recovery = await judged(store, at(2), otherIs({ liveness: "dead" }));
    expect(recovery.verdicts).toMatchObject([{ id: lost.id, verdict: { kind: "lost", dead: true, giveBack: false } }]);
    const next = await claimNext(store, ME, at(2), { recovery });
    expect(next!.id).toBe("2");
    const recovered = (await store.get(lost.id))!;
    expect(recovered.status).toBe("failed");
    expect(recovered.error!.message).toMatch(/the worker running this task died \(pid 1002 on here\): its process is gone/);
    await expect(store.settle(lost.id, lost.lease!, succeed, at(3))).rejects.toBeInstanceOf(LeaseLostError);
    // A verdict whose lease no longer holds the task is not applied.
    expect(await store.recover(at(3), recovery)).toEqual({ recovered: [], forced: [], promoted: [] });

    // Alive by pid but silent past the heartbeat timeout counts as lost too.
    expect(await claimNext(store, ME, at(4))).toBeNull();
    expect((await judged(store, at(50_000), () => facts())).verdicts).toEqual([]);
    await claimNext(store, OTHER, at(120_000), { recovery: await judged(store, at(120_000), () => facts()) });
    expect((await store.get("2"))!.error!.message).toMatch(/no heartbeat for 120s/);
  });

  it("a worker silent in the journal but with a recent beat outside it is not lost; once its beat stops too, it is", async () => {
    await fresh();
    await store.enqueue([input()], T0, noWorker);
    const running = (await claimNext(store, OTHER, at(1)))!;
    // Its journal heartbeat could not get the lock (queued behind other writers), its beat file is fresh.
    const beating = await judged(store, at(120_000), () => facts({ lastBeatAt: at(119_000).getTime() }));
    expect(await store.recover(at(120_000), beating)).toMatchObject({ recovered: [] });
    expect((await store.get(running.id))!.status).toBe("running");
    // Frozen (SIGSTOP): the beat ages with the heartbeat.
    const frozen = await judged(store, at(120_000), () => facts({ lastBeatAt: at(1).getTime() }));
    expect(await store.recover(at(120_000), frozen)).toMatchObject({ recovered: [running.id] });
    expect((await store.get(running.id))!.error!.message).toMatch(/no heartbeat for 120s/);
  });

  it("recover forces a try that outlived its cancel (when its worker can be killed) and queues scheduled tasks now due", async () => {
    await fresh();
    // The later one first due: promoted are named in id order.
    await store.enqueue([input(), input({ runAt: at(10_000) }), input({ runAt: at(5_000) })], T0, noWorker);
    const running = (await claimNext(store, OTHER, at(1)))!;
    await store.cancel(running.id, at(2));
    // Within the grace period (and the margin left to the worker's own supervisor): fine.
    expect((await judged(store, at(5_000), () => facts())).verdicts).toEqual([]);
    // Past it, but its worker cannot be checked from here: left alone.
    expect((await judged(store, at(20_000), () => facts({ killable: false }))).verdicts).toEqual([]);
    const overdue = await judged(store, at(20_000), () => facts());
    expect(overdue.verdicts).toMatchObject([{ id: running.id, verdict: { kind: "overdue", outcome: { kind: "cancelled" } } }]);
    expect(await store.recover(at(20_000), overdue)).toEqual({ recovered: [], forced: [running.id], promoted: ["2", "3"] });
    expect(await store.get(running.id)).toMatchObject({ status: "cancelled", message: expect.stringMatching(/its worker was killed/) });
    expect(await store.get("2")).toMatchObject({ status: "queued", nextRunAt: null });
  });

  it("a try recovered for a retry due at once is queued by the next recovery, not the one that recovered it", async () => {
    await fresh();
    await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "0s" }) })], T0, noWorker);
    const lost = (await claimNext(store, OTHER, at(1)))!;
    expect(await store.recover(at(2), await judged(store, at(2), otherIs({ liveness: "dead" })))).toEqual({ recovered: [lost.id], forced: [], promoted: [] });
    expect(await store.get(lost.id)).toMatchObject({ status: "scheduled", tries: 1 });
    expect(await store.recover(at(3), { verdicts: [], deadSlots: [] })).toEqual({ recovered: [], forced: [], promoted: [lost.id] });
    expect(await store.get(lost.id)).toMatchObject({ status: "queued" });
  });

  it("recovery gives back a lost worker's tries its beat file shows it never started, and counts one against the one it started", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const { next } = await store.exchange(OTHER, at(1), { ends: [], giveBack: [], claim: 3 });
    expect(next).toHaveLength(3);
    const { recovered } = await store.recover(at(2), await judged(store, at(2), otherIs({ liveness: "dead", started: ["1"] })));
    expect(recovered.sort()).toEqual(["1", "2", "3"]);
    expect(await store.get("1")).toMatchObject({ status: "failed", tries: 1 });
    expect(await store.get("2")).toMatchObject({ status: "queued", tries: 0, history: [] });
    expect(await store.get("3")).toMatchObject({ status: "queued", tries: 0, history: [] });
    // A worker whose beat file cannot tell gets a try counted against each.
    const { next: again } = await store.exchange(OTHER, at(3), { ends: [], giveBack: [], claim: 2 });
    expect(again.map((t) => t.id)).toEqual(["2", "3"]);
    await store.recover(at(4), await judged(store, at(4), otherIs({ liveness: "dead", started: null })));
    expect(await store.get("2")).toMatchObject({ status: "failed", tries: 1 });
  });

  it("survey lists every running try and tryControl reads one try's control row", async () => {
    await fresh();
    await store.enqueue([input(), input(), input()], T0, noWorker);
    const mine = (await claimNext(store, ME, at(1)))!;
    const theirs = (await claimNext(store, { ...OTHER, host: "there" }, at(1)))!;
    expect((await store.survey("here")).running.map((t) => [t.id, t.worker!.host])).toEqual([
      [mine.id, "here"],
      [theirs.id, "there"],
    ]);
    expect(await store.tryControl(mine.id, mine.lease!)).toEqual({ held: true, cancelRequestedAt: null });
    await store.cancel(mine.id, at(2));
    expect(await store.tryControl(mine.id, mine.lease!)).toEqual({ held: true, cancelRequestedAt: at(2).toISOString() });
    expect(await store.tryControl(mine.id, "not-the-lease")).toMatchObject({ held: false });
    await store.settle(mine.id, mine.lease!, succeed, at(3));
    expect(await store.tryControl(mine.id, mine.lease!)).toMatchObject({ held: false });
    expect(await store.tryControl("99", mine.lease!)).toEqual({ held: false, cancelRequestedAt: null });
  });
}
