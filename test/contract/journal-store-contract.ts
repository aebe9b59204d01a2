// The JournalStore contract: one suite that every store passes (the file journal, the memory
// store, PostgreSQL next). Each store runs it from its own small .test.ts file through
// describeJournalStore(name, open). It covers every method of the store, and the rules from core/
// as a store applies them: verdicts are judged here from facts, as worker/recovery.ts does.
import { afterEach, describe, expect, it } from "vitest";
import { judgeTry, type TickHolder, type TryVerdict, type WorkerFacts } from "../../src/core/recovery.ts";
import { NO_RETRY, normaliseRetry } from "../../src/core/retry-policy.ts";
import type { NewTask, TaskRecord, WorkerRef } from "../../src/core/task.ts";
import { forcedOutcome } from "../../src/core/transitions.ts";
import { LeaseLostError, TaskNotFoundError } from "../../src/errors.ts";
import type { Schedule } from "../../src/core/schedule.ts";
import { MemoryStore } from "../../src/journal/memory-store.ts";
import { claimNext, type FireRequest, type JournalStore, type Recovery, type SlotRequest } from "../../src/journal/store.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const ME: WorkerRef = { pid: 1001, host: "here", startTime: 5, bootId: "b" };
const OTHER: WorkerRef = { pid: 1002, host: "here", startTime: 6, bootId: "b" };
const noWorker = null;
const slots = (maxWorkers: number, deadSlots: string[] = []): SlotRequest => ({ host: "here", maxWorkers, scheduleWindowMs: 0, scheduleDue: false, deadSlots });
const succeed = { kind: "succeeded", message: null, result: null } as const;
const LIMITS = { heartbeatTimeoutMs: 60_000, graceMs: 5_000 };

function input(overrides: Partial<NewTask> = {}): NewTask {
  return { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides };
}

/** Facts about a worker: alive and beating unless said otherwise. */
function facts(overrides: Partial<WorkerFacts> = {}): WorkerFacts {
  return { liveness: "alive", lastBeatAt: null, started: null, killable: true, ...overrides };
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

    it("a claim's executors filter takes only tasks of those executors", async () => {
      await fresh();
      await store.enqueue([input({ executor: "a" }), input({ executor: "b" }), input({ executor: "c" })], T0, noWorker);
      const filter = { executors: ["b", "c"] };
      expect((await claimNext(store, ME, at(1), { filter }))!.id).toBe("2");
      expect((await claimNext(store, ME, at(2), { filter }))!.id).toBe("3");
      expect(await claimNext(store, ME, at(3), { filter })).toBeNull();
      expect((await store.list({ statuses: ["queued"] })).map((t) => t.executor)).toEqual(["a"]);
    });

    describe("fireSchedules", () => {
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

    it("a worker claims only tasks pinned to its host or to none, in claim order; the pin stays through a retry", async () => {
      await fresh();
      const THERE: WorkerRef = { ...OTHER, host: "there" };
      const retry = normaliseRetry({ tries: 2, interval: "1s" });
      const { tasks } = await store.enqueue(
        [input({ pinnedHost: "there", retry }), input(), input({ pinnedHost: "here" }), input({ pinnedHost: "there" })],
        T0,
        noWorker,
      );
      expect(tasks.map((t) => t.pinnedHost ?? null)).toEqual(["there", null, "here", "there"]);
      const batch = await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 5 });
      expect(batch.next.map((t) => t.id)).toEqual(["2", "3"]);
      expect(await claimNext(store, ME, at(2))).toBeNull();
      const first = (await claimNext(store, THERE, at(3)))!;
      expect(first).toMatchObject({ id: "1", pinnedHost: "there" });
      await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null }, at(4));
      expect(await store.get("1")).toMatchObject({ status: "scheduled", pinnedHost: "there" });
      expect(await claimNext(store, ME, at(2_000))).toBeNull();
      // The retry comes before the next new task, on its host only.
      expect((await claimNext(store, THERE, at(2_000)))!.id).toBe("1");
      expect((await claimNext(store, THERE, at(2_001)))!.id).toBe("4");
    });

    it("worker slots: a task pinned to another host starts no worker here, one pinned here does though others idle elsewhere; a worker retires with only others' tasks left", async () => {
      await fresh();
      expect((await store.enqueue([input({ pinnedHost: "there" })], T0, slots(2))).workerSlot).toBeNull();
      const there = (await store.reserveWorker(T0, { ...slots(2), host: "there" }))!;
      expect(there).toEqual(expect.any(String));
      await store.registerWorker("w", ME, T0);
      expect(await store.retireWorker("w", at(1), 60_000)).toEqual({ retired: true, nextDueAt: null });
      await store.enqueue([input({ pinnedHost: "there", runAt: at(500) })], at(1), noWorker);
      expect(await store.retireWorker(there, at(2), 60_000)).toEqual({ retired: false, nextDueAt: null });
      // Two workers live elsewhere; this host's first is wanted for the task only it may run.
      await store.registerWorker("w2", { ...OTHER, host: "there" }, at(2));
      expect((await store.enqueue([input({ pinnedHost: "here" })], at(3), slots(2))).workerSlot).toEqual(expect.any(String));
      expect((await store.enqueue([input({ pinnedHost: "here" })], at(3), slots(1))).workerSlot).toBeNull();
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

    describe("queue controls", () => {
      const fail = { kind: "failed", error: { message: "boom", stack: null, where: null }, message: null } as const;

      it("claims take higher priority first within a claim rank, then the oldest; serial keys still hold", async () => {
        await fresh();
        await store.enqueue(
          [input(), input({ priority: 5 }), input({ priority: 5, serialKey: "k" }), input({ priority: 5, serialKey: "k" }), input({ priority: 1 })],
          T0,
          noWorker,
        );
        expect((await store.get("2"))!.priority).toBe(5);
        const order: string[] = [];
        for (let claimed = await claimNext(store, ME, at(1)); claimed; claimed = await claimNext(store, ME, at(1))) order.push(claimed.id);
        // 4 shares 3's busy serial key; once 3 ends, it comes first again.
        expect(order).toEqual(["2", "3", "5", "1"]);
        const three = (await store.list({ ids: ["3"] }))[0]!;
        await store.settle("3", three.lease!, succeed, at(2));
        expect((await claimNext(store, ME, at(3)))!.id).toBe("4");
      });

      it("a due retry comes before new work of any priority", async () => {
        await fresh();
        await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "1s" }) })], T0, noWorker);
        const first = (await claimNext(store, ME, at(1)))!;
        await store.settle(first.id, first.lease!, fail, at(2));
        await store.enqueue([input({ priority: 100 })], at(3), noWorker);
        expect((await claimNext(store, ME, at(5_000)))!.id).toBe("1");
        expect((await claimNext(store, ME, at(5_001)))!.id).toBe("2");
      });

      it("a key makes one task while one with that executor and key is not final; replace changes a waiting one, never a running one", async () => {
        await fresh();
        const first = await store.enqueue([input({ key: "k", context: { n: 1 } })], T0, noWorker);
        expect(first.outcomes).toEqual(["created"]);
        const again = await store.enqueue(
          [input({ key: "k", context: { n: 2 } }), input({ key: "k", executor: "y" }), input({ key: "j" }), input({ key: "j" })],
          T0,
          noWorker,
        );
        expect(again.outcomes).toEqual(["existing", "created", "created", "existing"]);
        expect(again.tasks.map((t) => t.id)).toEqual(["1", "2", "3", "3"]);
        expect((await store.get("1"))!.context).toEqual({ n: 1 });
        const replaced = await store.enqueue([input({ key: "k", context: { n: 3 }, replace: true, runAt: at(60_000) })], at(1), noWorker);
        expect(replaced.outcomes).toEqual(["replaced"]);
        expect(await store.get("1")).toMatchObject({ context: { n: 3 }, status: "scheduled", nextRunAt: at(60_000).toISOString() });
        const claimed = (await claimNext(store, ME, at(60_000)))!;
        expect(claimed.id).toBe("1");
        const running = await store.enqueue([input({ key: "k", context: { n: 4 }, replace: true })], at(60_001), noWorker);
        expect(running.outcomes).toEqual(["running"]);
        expect((await store.get("1"))!.context).toEqual({ n: 3 });
        await store.settle("1", claimed.lease!, succeed, at(60_002));
        expect((await store.enqueue([input({ key: "k" })], at(60_003), noWorker)).outcomes).toEqual(["created"]);
      });

      it("a task after others waits until all succeeded; a failure or cancel cancels it, naming the task, and those after it in turn", async () => {
        await fresh();
        await store.enqueue([input(), input()], T0, noWorker);
        const [waiting] = (await store.enqueue([input({ after: ["1", "2"] })], T0, noWorker)).tasks;
        expect(waiting).toMatchObject({ id: "3", status: "queued", after: ["1", "2"], waitingFor: ["1", "2"] });
        const one = (await claimNext(store, ME, at(1)))!;
        const two = (await claimNext(store, OTHER, at(1)))!;
        expect(await claimNext(store, ME, at(1))).toBeNull();
        await store.settle(one.id, one.lease!, succeed, at(2));
        expect((await store.get("3"))!.waitingFor).toEqual(["2"]);
        await store.settle(two.id, two.lease!, succeed, at(3));
        expect((await claimNext(store, ME, at(4)))!.id).toBe("3");

        await store.enqueue([input()], T0, noWorker); // 4
        await store.enqueue([input({ after: ["4"] })], T0, noWorker); // 5
        await store.enqueue([input({ after: ["5"] })], T0, noWorker); // 6
        const four = (await claimNext(store, ME, at(5)))!;
        await store.settle(four.id, four.lease!, fail, at(6));
        expect(await store.get("5")).toMatchObject({ status: "cancelled", message: "cancelled: task 4, which it runs after, failed" });
        expect(await store.get("6")).toMatchObject({ status: "cancelled", message: "cancelled: task 5, which it runs after, was cancelled" });
        // Retried, a task cancelled this way runs at once: it waits for nothing more.
        expect((await store.retry("5", at(6)))!.task).toMatchObject({ status: "queued", waitingFor: [] });
        const five = (await claimNext(store, ME, at(6)))!;
        expect(five.id).toBe("5");
        await store.settle(five.id, five.lease!, succeed, at(6));

        // After a task already failed: cancelled at once. An unknown id: nothing stored.
        expect((await store.enqueue([input({ after: ["4"] })], at(7), noWorker)).tasks[0]).toMatchObject({ id: "7", status: "cancelled" });
        await expect(store.enqueue([input(), input({ after: ["99"] })], at(8), noWorker)).rejects.toBeInstanceOf(TaskNotFoundError);
        expect(await store.get("8")).toBeNull();
        expect((await store.enqueue([input({ after: ["3"] })], at(9), noWorker)).tasks[0]).toMatchObject({ id: "8", waitingFor: ["3"] });
      });

      it("cancel, remove and forceEnd of a task cancel those waiting for it, in the same operation", async () => {
        await fresh();
        await store.enqueue([input(), input(), input()], T0, noWorker);
        await store.enqueue([input({ after: ["1"] }), input({ after: ["2"] }), input({ after: ["3"] })], T0, noWorker);
        await store.cancel("1", at(1));
        expect(await store.get("4")).toMatchObject({ status: "cancelled", message: "cancelled: task 1, which it runs after, was cancelled" });
        await store.remove(["2"], at(2));
        expect(await store.get("5")).toMatchObject({ status: "cancelled", message: "cancelled: task 2, which it runs after, was removed" });
        const three = (await claimNext(store, ME, at(3)))!;
        expect(three.id).toBe("3");
        await store.forceEnd("3", three.lease!, forcedOutcome(three, "cancelled", 5_000), at(4));
        expect(await store.get("6")).toMatchObject({ status: "cancelled" });
      });

      it("cancelMany and retryMany act on several tasks in one operation, one result per id, as cancel and retry", async () => {
        await fresh();
        await store.enqueue([input(), input({ runAt: at(60_000) }), input()], T0, noWorker);
        const running = (await claimNext(store, ME, at(1)))!;
        const cancelled = await store.cancelMany([running.id, "2", "3", "99"], at(2));
        expect(cancelled.map((r) => r && [r.task.id, r.task.status, r.effect])).toEqual([
          ["1", "running", "requested"],
          ["2", "cancelled", "cancelled"],
          ["3", "cancelled", "cancelled"],
          null,
        ]);
        expect((await store.cancelMany(["2"], at(3)))[0]).toMatchObject({ effect: "final" });
        const retried = await store.retryMany(["1", "2", "3", "99"], at(4));
        expect(retried.map((r) => r && [r.task.id, r.task.status, r.queued])).toEqual([
          ["1", "running", false],
          ["2", "queued", true],
          ["3", "queued", true],
          null,
        ]);
      });

      it("a recovered try that fails for good cancels the tasks after it", async () => {
        await fresh();
        await store.enqueue([input()], T0, noWorker);
        await store.enqueue([input({ after: ["1"] })], T0, noWorker);
        await claimNext(store, OTHER, at(1));
        await store.recover(at(2), await judged(store, at(2), otherIs({ liveness: "dead" })));
        expect(await store.get("1")).toMatchObject({ status: "failed" });
        expect(await store.get("2")).toMatchObject({ status: "cancelled", message: "cancelled: task 1, which it runs after, failed" });
      });

      it("a paused queue is claimed from by nobody and needs no worker; resume restarts it", async () => {
        await fresh();
        expect(await store.pausedQueues()).toEqual([]);
        expect(await store.pauseQueues(["x", "z"], true)).toEqual(["x", "z"]);
        await store.enqueue([input(), input({ executor: "y" })], T0, noWorker);
        const other = (await claimNext(store, ME, at(1)))!;
        expect(other.executor).toBe("y");
        expect(await claimNext(store, ME, at(2))).toBeNull();
        await store.settle(other.id, other.lease!, succeed, at(2));
        expect(await store.retireWorker("w", at(3), 0)).toMatchObject({ retired: true });
        expect((await store.enqueue([input()], at(4), slots(2))).workerSlot).toBeNull();
        expect(await store.pauseQueues(["x"], false)).toEqual(["z"]);
        expect(await store.pausedQueues()).toEqual(["z"]);
        expect((await claimNext(store, ME, at(5)))!.executor).toBe("x");
      });

      it("concurrency: at most that many tasks of the executor run at once, whoever claims; others run beside them", async () => {
        await fresh();
        await store.enqueue(
          [input({ concurrency: 2 }), input({ concurrency: 2 }), input({ concurrency: 2 }), input({ executor: "y" }), input({ executor: "y" })],
          T0,
          noWorker,
        );
        const claimed = (await store.exchange(ME, at(1), { ends: [], giveBack: [], claim: 5 })).next;
        // Only the first task of a batch may have a limit: the rest are claimed one by one.
        expect(claimed.map((t) => t.id)).toEqual(["1"]);
        expect((await claimNext(store, OTHER, at(2)))!.id).toBe("2");
        expect((await claimNext(store, OTHER, at(3)))!.id).toBe("4");
        expect((await claimNext(store, OTHER, at(4)))!.id).toBe("5");
        expect(await claimNext(store, OTHER, at(5))).toBeNull();
        await store.settle("1", claimed[0]!.lease!, succeed, at(6));
        expect((await claimNext(store, OTHER, at(7)))!.id).toBe("3");
      });
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

      it("a task of higher priority, a keyed one or one after another, enqueued behind it, is claimed in claim order", async () => {
        await deep();
        const [urgent] = (await store.enqueue([input({ priority: 1 })], T0, noWorker)).tasks;
        const [keyed] = (await store.enqueue([input({ key: "k" })], T0, noWorker)).tasks;
        expect((await store.enqueue([input({ key: "k" })], T0, noWorker)).outcomes).toEqual(["existing"]);
        const [after] = (await store.enqueue([input({ after: ["1"] })], T0, noWorker)).tasks;
        expect((await claimNext(store, ME, at(1)))!.id).toBe(urgent!.id);
        const first = (await claimNext(store, ME, at(2)))!;
        expect(first.id).toBe("1");
        await store.settle(first.id, first.lease!, succeed, at(3));
        expect((await store.get(after!.id))!.waitingFor).toEqual([]);
        const order: string[] = [];
        for (let claimed = await claimNext(store, ME, at(4)); claimed; claimed = await claimNext(store, ME, at(4))) {
          order.push(claimed.id);
          await store.settle(claimed.id, claimed.lease!, succeed, at(4));
        }
        expect(order.slice(-2)).toEqual([keyed!.id, after!.id]);
        expect(order).toHaveLength(DEEP + 1);
      });

      it("a paused queue's tasks wait while the other executors' are claimed", async () => {
        await deep();
        await store.pauseQueues(["x"], true);
        await store.enqueue(
          Array.from({ length: 3 }, () => input({ executor: "y" })),
          T0,
          noWorker,
        );
        // A store may pass over a bounded number of the paused queue's tasks per claim (the file
        // journal moves them from its cold queue into the active set): a few claims may find nothing.
        const order: string[] = [];
        for (let attempt = 0; attempt < 50 && order.length < 3; attempt++) {
          const claimed = await claimNext(store, ME, at(1));
          if (claimed) order.push(claimed.executor);
        }
        expect(order).toEqual(["y", "y", "y"]);
        expect(await claimNext(store, ME, at(1))).toBeNull();
        expect((await store.list({ statuses: ["queued"], executor: "x" })).length).toBe(DEEP);
        await store.pauseQueues(["x"], false);
        expect((await claimNext(store, ME, at(2)))!.id).toBe("1");
      });

      it("cancelMany of every queued task cancels the whole queue at once; later tasks are claimed", async () => {
        await deep();
        const ids = (await store.list({ statuses: ["queued"] })).map((t) => t.id);
        expect(ids).toHaveLength(DEEP);
        const results = await store.cancelMany(ids, at(1));
        expect(results.every((r) => r?.effect === "cancelled")).toBe(true);
        expect(await store.list({ statuses: ["queued"] })).toEqual([]);
        expect(await store.get("700")).toMatchObject({ status: "cancelled" });
        expect(await claimNext(store, ME, at(2))).toBeNull();
        expect(await store.retireWorker("w", at(2), 0)).toMatchObject({ retired: true });
        const [next] = (await store.enqueue([input()], at(3), noWorker)).tasks;
        expect((await claimNext(store, ME, at(4)))!.id).toBe(next!.id);
      });

      it("a worker retires only once the deep queue is drained", async () => {
        await deep();
        expect(await store.retireWorker("w", at(1), 0)).toEqual({ retired: false, nextDueAt: null });
        expect(await store.reserveWorker(at(1), slots(3))).not.toBeNull();
      });
    });

    describe("importTasks", () => {
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
        const copy = { tasks, pausedQueues: ["x"], schedules: { nightly: { slot: "2026-01-01T00:00:00.000Z", taskId: "3" } } };
        expect(await store.importTasks(copy)).toEqual({ clashes: [] });
        for (const task of tasks) expect(await store.get(task.id)).toEqual(task);
        expect((await store.list({})).map((t) => t.id).sort()).toEqual(["1", "2", "3", "4"]);
        expect((await store.get("1"))!.history).toHaveLength(2);
        expect(await store.pausedQueues()).toEqual(["x"]);
        expect(await store.scheduleStates()).toEqual(copy.schedules);
        expect((await store.enqueue([input()], at(4_000), noWorker)).tasks[0]!.id).toBe("5");
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
        expect(await store.importTasks({ tasks: await source.list({}), pausedQueues: [], schedules: {} })).toEqual({ clashes: [] });
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
        expect(await store.importTasks({ tasks, pausedQueues: ["x"], schedules: {} })).toEqual({ clashes: ["1", "2"] });
        expect((await store.list({})).map((t) => t.id)).toEqual(["1", "2"]);
        expect((await store.get("1"))!.status).toBe("queued");
        expect(await store.pausedQueues()).toEqual([]);
      });
    });
  });
}
