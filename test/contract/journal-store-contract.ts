// The JournalStore contract: one suite that every store passes (the file journal, the memory
// store, PostgreSQL next). Each store runs it from its own small .test.ts file through
// describeJournalStore(name, open). It covers every method of the store, and the rules from core/
// as a store applies them: verdicts are judged here from facts, as worker/recovery.ts does.
import { afterEach, describe, expect, it } from "vitest";
import { judgeTry, type TickHolder, type TryVerdict, type WorkerFacts } from "../../src/core/recovery.ts";
import { NO_RETRY, normaliseRetry } from "../../src/core/retry-policy.ts";
import type { NewTask, WorkerRef } from "../../src/core/task.ts";
import { forcedOutcome } from "../../src/core/transitions.ts";
import { LeaseLostError } from "../../src/errors.ts";
import { claimNext, type JournalStore, type Recovery, type SlotRequest } from "../../src/journal/store.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const ME: WorkerRef = { pid: 1001, host: "here", startTime: 5, bootId: "b" };
const OTHER: WorkerRef = { pid: 1002, host: "here", startTime: 6, bootId: "b" };
const noWorker = null;
const slots = (maxWorkers: number, deadSlots: string[] = []): SlotRequest => ({ host: "here", maxWorkers, scheduleWindowMs: 0, deadSlots });
const succeed = { kind: "succeeded", message: null, result: null } as const;
const LIMITS = { heartbeatTimeoutMs: 60_000, graceMs: 5_000 };

function input(overrides: Partial<NewTask> = {}): NewTask {
  return { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides };
}

/** Facts about a worker: alive and beating unless said otherwise. */
function facts(overrides: Partial<WorkerFacts> = {}): WorkerFacts {
  return { liveness: "alive", lastBeatAt: null, startedTask: null, killable: true, ...overrides };
}

/** Judges every running try the store's survey shows, as worker/recovery.ts does. */
async function judged(store: JournalStore, now: Date, factsOf: (worker: WorkerRef) => WorkerFacts, deadSlots: string[] = []): Promise<Recovery> {
  const verdicts: TryVerdict[] = [];
  for (const task of (await store.survey("here")).running) {
    const verdict = judgeTry(task, factsOf(task.worker!), now, LIMITS);
    if (verdict.kind !== "fine") verdicts.push({ id: task.id, lease: task.lease!, verdict });
  }
  return { verdicts, deadSlots };
}

const otherIs = (other: Partial<WorkerFacts>) => (worker: WorkerRef) => (worker.pid === OTHER.pid ? facts(other) : facts());

export interface OpenedStore {
  store: JournalStore;
  /** Removes what the store left (its folder); called after close(). */
  dispose(): void | Promise<void>;
}

export function describeJournalStore(name: string, open: () => Promise<OpenedStore>): void {
  describe(`JournalStore contract: ${name}`, () => {
    let store: JournalStore;
    let opened: OpenedStore | null = null;
    const fresh = async () => {
      opened = await open();
      store = opened.store;
    };
    afterEach(async () => {
      await opened?.store.close();
      await opened?.dispose();
      opened = null;
    });

    it("enqueue stores tasks with increasing numeric ids, all queued, and get/list return them", async () => {
      await fresh();
      const { tasks, workerSlot } = await store.enqueue([input({ context: { n: 1 } }), input({ context: { n: 2 } })], T0, noWorker);
      expect(tasks.map((t) => [t.id, t.status])).toEqual([
        ["1", "queued"],
        ["2", "queued"],
      ]);
      expect(workerSlot).toBeNull();
      const [third] = (await store.enqueue([input({ runAt: at(60_000) })], T0, noWorker)).tasks;
      expect(third).toMatchObject({ id: "3", status: "scheduled", nextRunAt: at(60_000).toISOString() });
      expect(await store.get("2")).toMatchObject({ id: "2", context: { n: 2 } });
      expect(await store.get("99")).toBeNull();
      expect((await store.list({})).map((t) => t.id)).toEqual(["1", "2", "3"]);
    });

    it("enqueue reserves a worker slot only while fewer than maxWorkers run and there is work for one more", async () => {
      await fresh();
      const first = (await store.enqueue([input()], T0, slots(2))).workerSlot;
      expect(first).not.toBeNull();
      expect((await store.enqueue([input()], T0, slots(2))).workerSlot).not.toBeNull();
      expect((await store.enqueue([input()], T0, slots(2))).workerSlot).toBeNull();
      // A slot the caller found dead is freed first; another host's workers do not count against this host's limit.
      expect((await store.enqueue([input()], T0, slots(2, [first!]))).workerSlot).not.toBeNull();
      expect((await store.enqueue([input()], T0, { ...slots(1), host: "there" })).workerSlot).not.toBeNull();
      expect((await store.survey("here")).slots).toHaveLength(2);
      expect((await store.survey("there")).slots).toMatchObject([{ host: "there", process: null }]);
      // A reservation whose worker never registered expires.
      expect((await store.enqueue([input()], at(15_000), slots(2))).workerSlot).not.toBeNull();
    });

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

    it("stats counts tasks by executor and status, the oldest queued task, and the tasks finished per minute", async () => {
      await fresh();
      expect(await store.stats(T0, 3)).toEqual({ counts: {}, oldestQueuedAt: null, finishedPerMinute: [0, 0, 0] });
      await store.enqueue([input({ executor: "a" }), input({ executor: "a" })], T0, noWorker);
      await store.enqueue([input({ executor: "b" })], at(1_000), noWorker);
      const claimed = (await claimNext(store, ME, at(2_000)))!;
      await store.settle(claimed.id, claimed.lease!, succeed, at(65_000));
      const stats = await store.stats(at(150_000), 3);
      expect(stats).toEqual({ counts: { a: { succeeded: 1, queued: 1 }, b: { queued: 1 } }, oldestQueuedAt: T0.toISOString(), finishedPerMinute: [0, 1, 0] });
      // A final task queued again is counted once, as queued; a removed one not at all.
      await store.retry(claimed.id, at(151_000));
      expect((await store.stats(at(152_000), 3)).counts).toEqual({ a: { queued: 2 }, b: { queued: 1 } });
      await store.remove(["3"], at(153_000));
      expect((await store.stats(at(154_000), 3)).counts).toEqual({ a: { queued: 2 } });
    });

    it("workerSlots lists every slot on every host", async () => {
      await fresh();
      await store.enqueue([input(), input()], T0, slots(2));
      await store.registerWorker("w-there", { ...OTHER, host: "there" }, T0);
      const all = await store.workerSlots();
      expect(all.map((s) => s.host).sort()).toEqual(["here", "there"]);
      expect(all.find((s) => s.host === "there")).toMatchObject({ slot: "w-there", process: { pid: OTHER.pid } });
    });

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
      await store.enqueue([input(), input({ runAt: at(10_000) })], T0, noWorker);
      const running = (await claimNext(store, OTHER, at(1)))!;
      await store.cancel(running.id, at(2));
      // Within the grace period (and the margin left to the worker's own supervisor): fine.
      expect((await judged(store, at(5_000), () => facts())).verdicts).toEqual([]);
      // Past it, but its worker cannot be checked from here: left alone.
      expect((await judged(store, at(20_000), () => facts({ killable: false }))).verdicts).toEqual([]);
      const overdue = await judged(store, at(20_000), () => facts());
      expect(overdue.verdicts).toMatchObject([{ id: running.id, verdict: { kind: "overdue", outcome: { kind: "cancelled" } } }]);
      expect(await store.recover(at(20_000), overdue)).toEqual({ recovered: [], forced: [running.id], promoted: ["2"] });
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

    it("recovery gives back a lost worker's tries its beat file shows it never started, and counts one against the one it started", async () => {
      await fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      const { next } = await store.exchange(OTHER, at(1), { ends: [], giveBack: [], claim: 3 });
      expect(next).toHaveLength(3);
      const { recovered } = await store.recover(at(2), await judged(store, at(2), otherIs({ liveness: "dead", startedTask: "1" })));
      expect(recovered.sort()).toEqual(["1", "2", "3"]);
      expect(await store.get("1")).toMatchObject({ status: "failed", tries: 1 });
      expect(await store.get("2")).toMatchObject({ status: "queued", tries: 0, history: [] });
      expect(await store.get("3")).toMatchObject({ status: "queued", tries: 0, history: [] });
      // A worker whose beat file cannot tell gets a try counted against each.
      const { next: again } = await store.exchange(OTHER, at(3), { ends: [], giveBack: [], claim: 2 });
      expect(again.map((t) => t.id)).toEqual(["2", "3"]);
      await store.recover(at(4), await judged(store, at(4), otherIs({ liveness: "dead", startedTask: null })));
      expect(await store.get("2")).toMatchObject({ status: "failed", tries: 1 });
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

    it("cancel ends a task that is not running, asks a running one to stop, and leaves a final one", async () => {
      await fresh();
      await store.enqueue([input(), input({ runAt: at(60_000) })], T0, noWorker);
      const running = (await claimNext(store, ME, at(1)))!;
      expect(await store.cancel("2", at(2))).toMatchObject({ effect: "cancelled", task: { id: "2", status: "cancelled", completed: true } });
      expect(await store.cancel(running.id, at(3))).toMatchObject({ effect: "requested", task: { status: "running", cancelRequestedAt: at(3).toISOString() } });
      expect(await store.cancel("2", at(4))).toMatchObject({ effect: "final", task: { status: "cancelled" } });
      expect(await store.cancel("99", at(4))).toBeNull();
      // A running try that fails after its cancel was asked ends the task cancelled, never retried.
      const error = { message: "stopped", stack: null, where: null };
      expect(await store.settle(running.id, running.lease!, { kind: "failed", error, message: null }, at(5))).toMatchObject({ status: "cancelled" });
    });

    it("retry queues a final task again, with one more try; a task not final is left as it is", async () => {
      await fresh();
      await store.enqueue([input(), input()], T0, noWorker);
      const first = (await claimNext(store, ME, at(1)))!;
      await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
      expect(await store.retry(first.id, at(3))).toMatchObject({
        queued: true,
        task: { id: first.id, status: "queued", tries: 1, maxTries: 2, remainingTries: 1 },
      });
      expect(await store.get(first.id)).toMatchObject({ status: "queued" });
      expect(await store.retry("2", at(3))).toMatchObject({ queued: false, task: { status: "queued" } });
      expect(await store.retry("99", at(3))).toBeNull();
      expect(await claimNext(store, ME, at(4))).toMatchObject({ id: first.id, tries: 2 });
    });

    it("remove deletes tasks that are not running, all or none", async () => {
      await fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      const running = (await claimNext(store, ME, at(1)))!;
      expect(await store.remove(["2", running.id], at(2))).toMatchObject({ removed: [], running: [running.id], missing: [] });
      expect(await store.remove(["2", "99"], at(2))).toMatchObject({ removed: [], running: [], missing: ["99"] });
      expect(await store.get("2")).not.toBeNull();
      await store.settle(running.id, running.lease!, succeed, at(3));
      const { removed } = await store.remove([running.id, "2", "2"], at(4));
      expect(removed.map((t) => t.id).sort()).toEqual(["1", "2"]);
      expect(await store.get("1")).toBeNull();
      expect(await store.get("2")).toBeNull();
      expect((await store.list({})).map((t) => t.id)).toEqual(["3"]);
    });

    it("removeFinished deletes final tasks finished before a time (all when null), cheaply nothing while the oldest is younger", async () => {
      await fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      for (const ms of [1_000, 5_000]) {
        const claimed = (await claimNext(store, ME, at(ms)))!;
        await store.settle(claimed.id, claimed.lease!, succeed, at(ms));
      }
      expect(await store.removeFinished(at(3_000), at(10_000), { onlyIfOldestBefore: at(500) })).toEqual([]);
      expect(await store.removeFinished(at(3_000), at(10_000), { onlyIfOldestBefore: at(2_000) })).toEqual(["1"]);
      expect((await store.list({})).map((t) => t.id)).toEqual(["2", "3"]);
      expect(await store.removeFinished(null, at(10_000))).toEqual(["2"]);
      expect((await store.list({})).map((t) => t.id)).toEqual(["3"]);
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

    it("the tick mutex: taken when free, kept by its holder, taken over only from the holder the caller judged gone, given back by its holder", async () => {
      await fresh();
      const first: TickHolder = { process: ME, since: at(0).toISOString(), expiresAt: at(60_000).toISOString() };
      const second: TickHolder = { process: OTHER, since: at(1).toISOString(), expiresAt: at(61_000).toISOString() };
      expect(await store.tickHolder()).toBeNull();
      expect(await store.acquireTick(first, null)).toBeNull();
      expect(await store.tickHolder()).toEqual(first);
      expect(await store.acquireTick(second, null)).toEqual(first);
      expect(await store.acquireTick(second, second)).toEqual(first);
      await store.releaseTick(second);
      expect(await store.tickHolder()).toEqual(first);
      expect(await store.acquireTick(second, first)).toBeNull();
      expect(await store.tickHolder()).toEqual(second);
      await store.releaseTick(second);
      expect(await store.tickHolder()).toBeNull();
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

    // Past the active set's limit (1,000 in the file journal) a store may keep plain queued tasks
    // elsewhere (the file journal's cold queue): every operation must still see them as queued tasks.
    describe("a deep queue", () => {
      const DEEP = 1_200;
      const deep = async () => {
        await fresh();
        await store.enqueue(
          Array.from({ length: DEEP }, (_, i) => input({ context: { n: i + 1 } })),
          T0,
          noWorker,
        );
      };
      const succeed = { kind: "succeeded", message: null, result: null } as const;

      it("get, list, cancel and remove see its tasks; ids go on after it", async () => {
        await deep();
        expect(await store.get("600")).toMatchObject({ id: "600", status: "queued", context: { n: 600 } });
        expect(await store.get(String(DEEP + 1))).toBeNull();
        expect((await store.list({ limit: 3 })).map((t) => t.id)).toEqual(["1", "2", "3"]);
        expect((await store.list({ statuses: ["queued"], limit: 2 })).map((t) => t.id)).toEqual(["1", "2"]);
        expect(await store.list({ statuses: ["running"] })).toEqual([]);
        expect((await store.cancel("2", at(1)))!).toMatchObject({ effect: "cancelled", task: { status: "cancelled" } });
        expect((await store.remove(["3"], at(1))).removed.map((t) => t.id)).toEqual(["3"]);
        expect(await store.get("2")).toMatchObject({ status: "cancelled" });
        expect(await store.get("3")).toBeNull();
        expect((await store.list({ statuses: ["queued"], limit: 2 })).map((t) => t.id)).toEqual(["1", "4"]);
        expect((await store.list({ statuses: ["cancelled"] })).map((t) => t.id)).toEqual(["2"]);
        expect((await store.enqueue([input()], at(2), noWorker)).tasks[0]!.id).toBe(String(DEEP + 1));
      });

      it("claims keep claim order with the rest of the active set: due retries first, serial keys held, each task once", async () => {
        await deep();
        const [serialA, serialB] = (await store.enqueue([input({ serialKey: "k" }), input({ serialKey: "k" })], T0, noWorker)).tasks;
        await store.enqueue([input({ runAt: at(3_600_000) })], T0, noWorker);
        await store.cancel("5", at(1));
        const first = (await claimNext(store, ME, at(1)))!;
        expect(first.id).toBe("1");
        await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
        // Task 1 failed without a retry policy: final.
        const order: string[] = [];
        let now = 3;
        for (let claimed = await claimNext(store, ME, at(now)); claimed; claimed = await claimNext(store, ME, at(++now))) {
          order.push(claimed.id);
          if (claimed.serialKey !== null) {
            // Its serial twin waits while it runs.
            const other = await claimNext(store, OTHER, at(now));
            expect(other?.serialKey ?? null).toBeNull();
            if (other) {
              order.push(other.id);
              await store.settle(other.id, other.lease!, succeed, at(now));
            }
          }
          await store.settle(claimed.id, claimed.lease!, succeed, at(now));
        }
        const expected = [...Array.from({ length: DEEP - 1 }, (_, i) => String(i + 2)).filter((id) => id !== "5"), serialA!.id, serialB!.id];
        expect(order).toEqual(expected);
        expect(await claimNext(store, ME, at(3_600_000))).toMatchObject({ id: String(DEEP + 3) });
        expect(await store.get("600")).toMatchObject({ status: "succeeded" });
      });

      it("a retry that comes due is claimed before the queued tasks behind it", async () => {
        await fresh();
        await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "10s" }) })], T0, noWorker);
        await store.enqueue(
          Array.from({ length: DEEP }, () => input()),
          T0,
          noWorker,
        );
        const first = (await claimNext(store, ME, at(1)))!;
        await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
        expect((await claimNext(store, ME, at(3)))!.id).toBe("2");
        expect((await claimNext(store, ME, at(20_000)))!).toMatchObject({ id: "1", tries: 2 });
        expect((await claimNext(store, ME, at(20_001)))!.id).toBe("3");
      });

      it("page and stats read the deep queue in order and count it by executor, without its tasks that left", async () => {
        await deep();
        await store.cancel("5", at(1));
        // An executor named like a property of every object is counted as any other.
        await store.enqueue([input({ executor: "constructor" })], at(2), noWorker);
        expect((await store.page({ order: "claim", offset: 3, limit: 3 })).map((t) => t.id)).toEqual(["4", "6", "7"]);
        expect((await store.page({ order: "newest", offset: 0, limit: 3 })).map((t) => t.id)).toEqual([String(DEEP + 1), String(DEEP), String(DEEP - 1)]);
        expect((await store.stats(at(3), 1)).counts).toEqual({ x: { queued: DEEP - 1, cancelled: 1 }, constructor: { queued: 1 } });
        const claimed = (await claimNext(store, ME, at(4)))!;
        expect(claimed.id).toBe("1");
        const stats = await store.stats(at(5), 1);
        expect(stats.counts).toEqual({ x: { queued: DEEP - 2, running: 1, cancelled: 1 }, constructor: { queued: 1 } });
        expect(stats.oldestQueuedAt).toBe(T0.toISOString());
      });

      it("a claim that refuses queued tasks (a tick's budget) leaves them queued, in order", async () => {
        await deep();
        const refuseEven = { excludeIds: Array.from({ length: DEEP / 2 }, (_, i) => String(2 * (i + 1))) };
        expect((await claimNext(store, ME, at(1), { filter: refuseEven }))!.id).toBe("1");
        expect((await claimNext(store, ME, at(2), { filter: refuseEven }))!.id).toBe("3");
        expect((await store.list({ statuses: ["queued"], limit: 3 })).map((t) => t.id)).toEqual(["2", "4", "5"]);
        expect((await claimNext(store, ME, at(3)))!.id).toBe("2");
      });

      it("a deep enqueue reserves a worker slot for its tasks, as a shallow one does", async () => {
        await fresh();
        expect(
          (
            await store.enqueue(
              Array.from({ length: DEEP }, () => input()),
              T0,
              slots(2),
            )
          ).workerSlot,
        ).not.toBeNull();
        expect(
          (
            await store.enqueue(
              Array.from({ length: DEEP }, () => input()),
              T0,
              slots(2),
            )
          ).workerSlot,
        ).not.toBeNull();
        expect((await store.enqueue([input()], T0, slots(2))).workerSlot).toBeNull();
      });

      it("a worker retires only once the deep queue is drained", async () => {
        await deep();
        expect(await store.retireWorker("w", at(1), 0)).toEqual({ retired: false, nextDueAt: null });
        expect(await store.reserveWorker(at(1), slots(3))).not.toBeNull();
      });
    });
  });
}
