// The JournalStore contract, run against the file journal in a temp dir. Written as
// describeJournalStore(name, open) so every store (PostgreSQL later) passes the same suite.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NO_RETRY, normaliseRetry } from "../../src/core/retry-policy.ts";
import type { NewTask, WorkerRef } from "../../src/core/task.ts";
import { LeaseLostError } from "../../src/errors.ts";
import { FileJournal } from "../../src/journal/file-store.ts";
import type { ClaimOptions, EnqueueOptions, JournalStore } from "../../src/journal/store.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const ME: WorkerRef = { pid: 1001, host: "here", startTime: 5, bootId: "b" };
const OTHER: WorkerRef = { pid: 1002, host: "here", startTime: 6, bootId: "b" };
const alive: ClaimOptions = { liveness: () => "alive", heartbeatTimeoutMs: 60_000, graceMs: 5_000 };
const noWorker: EnqueueOptions = { maxWorkers: null, liveness: () => "alive", scheduleWindowMs: 0 };

function input(overrides: Partial<NewTask> = {}): NewTask {
  return { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides };
}

export function describeJournalStore(name: string, open: () => { store: JournalStore; dispose(): void }): void {
  describe(`JournalStore contract: ${name}`, () => {
    let store: JournalStore;
    let dispose: () => void;
    const fresh = () => ({ store, dispose } = open());
    afterEach(() => dispose());

    it("enqueue stores tasks with increasing numeric ids, all queued, and get/list return them", async () => {
      fresh();
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
      fresh();
      const options: EnqueueOptions = { maxWorkers: 2, liveness: () => "alive", scheduleWindowMs: 0 };
      expect((await store.enqueue([input()], T0, options)).workerSlot).not.toBeNull();
      expect((await store.enqueue([input()], T0, options)).workerSlot).not.toBeNull();
      expect((await store.enqueue([input()], T0, options)).workerSlot).toBeNull();
    });

    it("claimNext takes the oldest runnable task for a worker, with a lease; null when nothing is runnable", async () => {
      fresh();
      await store.enqueue([input({ runAt: at(60_000) }), input(), input()], T0, noWorker);
      const first = await store.claimNext("slot", ME, at(1), alive);
      expect(first).toMatchObject({ id: "2", status: "running", tries: 1, worker: ME });
      expect(first!.lease).toEqual(expect.any(String));
      expect((await store.claimNext("slot", ME, at(2), alive))!.id).toBe("3");
      expect(await store.claimNext("slot", ME, at(3), alive)).toBeNull();
      expect((await store.claimNext("slot", ME, at(60_000), alive))!.id).toBe("1");
    });

    it("claimNext keeps tasks with a busy serial key waiting, in order", async () => {
      fresh();
      await store.enqueue([input({ serialKey: "k" }), input({ serialKey: "k" }), input()], T0, noWorker);
      expect((await store.claimNext("a", ME, at(1), alive))!.id).toBe("1");
      expect((await store.claimNext("b", OTHER, at(2), alive))!.id).toBe("3");
      expect(await store.claimNext("b", OTHER, at(3), alive)).toBeNull();
    });

    it("report updates a running task under its lease and refuses any other lease", async () => {
      fresh();
      await store.enqueue([input()], T0, noWorker);
      const claimed = (await store.claimNext("slot", ME, at(1), alive))!;
      await store.report(claimed.id, claimed.lease!, { progress: 40, message: "copying", attributes: { a: 1 } }, at(2));
      await store.report(claimed.id, claimed.lease!, { attributes: { b: 2 } }, at(3));
      expect(await store.get(claimed.id)).toMatchObject({ progress: 40, message: "copying", attributes: { a: 1, b: 2 }, heartbeatAt: at(3).toISOString() });
      await expect(store.report(claimed.id, "not-the-lease", { progress: 99 }, at(4))).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.report("99", claimed.lease!, { progress: 99 }, at(4))).rejects.toBeInstanceOf(LeaseLostError);
      expect((await store.get(claimed.id))!.progress).toBe(40);
    });

    it("settle ends the try; a final task moves to the history and get/list still find it", async () => {
      fresh();
      await store.enqueue([input(), input()], T0, noWorker);
      const claimed = (await store.claimNext("slot", ME, at(1), alive))!;
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
      fresh();
      await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "10s" }) })], T0, noWorker);
      const first = (await store.claimNext("slot", ME, at(1), alive))!;
      const error = { message: "boom", stack: null, where: null };
      expect(await store.settle(first.id, first.lease!, { kind: "failed", error, message: null }, at(2))).toMatchObject({ status: "scheduled", tries: 1 });
      expect(await store.claimNext("slot", ME, at(3), alive)).toBeNull();
      const second = (await store.claimNext("slot", ME, at(10_002), alive))!;
      expect(second).toMatchObject({ id: first.id, tries: 2 });
      expect(second.lease).not.toBe(first.lease);
      await expect(store.report(first.id, first.lease!, { progress: 5 }, at(10_003))).rejects.toBeInstanceOf(LeaseLostError);
    });

    it("claimNext recovers the task of a dead worker (or a silent one) before claiming, fencing its lease", async () => {
      fresh();
      await store.enqueue([input(), input()], T0, noWorker);
      const lost = (await store.claimNext("a", OTHER, at(1), alive))!;
      const deadOther: ClaimOptions = { liveness: (w) => (w.pid === OTHER.pid ? "dead" : "alive"), heartbeatTimeoutMs: 60_000, graceMs: 5_000 };
      const next = await store.claimNext("b", ME, at(2), deadOther);
      expect(next!.id).toBe("2");
      const recovered = (await store.get(lost.id))!;
      expect(recovered.status).toBe("failed");
      expect(recovered.error!.message).toMatch(/the worker running this task died \(pid 1002 on here\): its process is gone/);
      await expect(store.settle(lost.id, lost.lease!, { kind: "succeeded", message: null, result: null }, at(3))).rejects.toBeInstanceOf(LeaseLostError);

      // Alive by pid but silent past the heartbeat timeout counts as lost too.
      const silent = await store.claimNext("b", ME, at(4), alive);
      expect(silent).toBeNull();
      await store.claimNext("c", OTHER, at(120_000), alive);
      expect((await store.get("2"))!.error!.message).toMatch(/no heartbeat for 120s/);
    });

    it("a worker silent in the journal but with a recent beat outside it is not lost; once its beat stops too, it is", async () => {
      fresh();
      await store.enqueue([input()], T0, noWorker);
      const running = (await store.claimNext("a", OTHER, at(1), alive))!;
      // Its journal heartbeat could not get the lock (queued behind other writers), its beat file is fresh.
      let beatAt = at(119_000).getTime();
      const beating: ClaimOptions = { ...alive, lastBeat: (w) => (w.pid === OTHER.pid ? beatAt : null) };
      expect(await store.recover(at(120_000), beating)).toMatchObject({ recovered: [] });
      expect((await store.get(running.id))!.status).toBe("running");
      // Frozen (SIGSTOP): the beat ages with the heartbeat.
      beatAt = at(1).getTime();
      expect(await store.recover(at(120_000), beating)).toMatchObject({ recovered: [running.id] });
      expect((await store.get(running.id))!.error!.message).toMatch(/no heartbeat for 120s/);
    });

    it("with recoverEveryMs, claims within the interval skip recovery while there is work, and recover when nothing else is claimable", async () => {
      fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      const every = { ...alive, recoverEveryMs: 1_000 };
      const lost = (await store.claimNext("a", OTHER, at(1), every))!;
      const deadOther: ClaimOptions = { ...every, liveness: (w) => (w.pid === OTHER.pid ? "dead" : "alive") };
      expect((await store.claimNext("b", ME, at(2), deadOther))!.id).toBe("2");
      expect((await store.get(lost.id))!.status).toBe("running");
      // The interval is over: recovered before the claim.
      expect((await store.claimNext("b", ME, at(1_001), deadOther))!.id).toBe("3");
      expect((await store.get(lost.id))!.status).toBe("failed");

      await store.enqueue([input()], T0, noWorker);
      const lostAgain = (await store.claimNext("a", OTHER, at(1_002), every))!;
      expect(lostAgain.id).toBe("4");
      // Within the interval, but nothing else to claim: it looks for lost tries anyway.
      expect(await store.claimNext("b", ME, at(1_003), deadOther)).toBeNull();
      expect((await store.get("4"))!.status).toBe("failed");
    });

    it("exchange records tries and claims the next task in one write; a lost lease claims nothing", async () => {
      fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      const first = (await store.claimNext("s", ME, at(1), alive))!;
      const done = { id: first.id, lease: first.lease!, outcome: { kind: "succeeded", message: "ok", result: 1 } } as const;
      const { settled, next } = await store.exchange(ME, at(2), alive, { ends: [done], giveBack: [], claim: 1 });
      expect(settled).toMatchObject([{ id: "1", status: "succeeded", message: "ok", result: 1 }]);
      expect(next).toMatchObject([{ id: "2", status: "running" }]);
      const stale = await store.exchange(ME, at(3), alive, { ends: [done], giveBack: [], claim: 1 });
      expect(stale).toEqual({ settled: [null], next: [] });
      expect((await store.get("3"))!.status).toBe("queued");
    });

    it("exchange claims several fresh plain tasks at once, in claim order, stopping before one that cannot be given back", async () => {
      fresh();
      await store.enqueue([input(), input(), input({ serialKey: "k" }), input()], T0, noWorker);
      const { next } = await store.exchange(ME, at(1), alive, { ends: [], giveBack: [], claim: 8 });
      expect(next.map((t) => [t.id, t.status, t.tries])).toEqual([
        ["1", "running", 1],
        ["2", "running", 1],
      ]);
      expect(new Set(next.map((t) => t.lease)).size).toBe(2);
      // The serial task heads the line now: claimed first, alone ahead of nothing.
      expect((await store.exchange(ME, at(2), alive, { ends: [], giveBack: [], claim: 8 })).next.map((t) => t.id)).toEqual(["3", "4"]);
    });

    it("exchange gives back claimed tries that never started: queued as they were, no try counted; a cancel asked meanwhile ends them", async () => {
      fresh();
      const [one] = (await store.enqueue([input(), input(), input()], T0, noWorker)).tasks;
      const { next } = await store.exchange(ME, at(1), alive, { ends: [], giveBack: [], claim: 3 });
      await store.cancel("3", at(2));
      const end = { id: next[0]!.id, lease: next[0]!.lease!, outcome: { kind: "succeeded", message: null, result: null } } as const;
      const back = next.slice(1).map((t) => ({ id: t.id, lease: t.lease! }));
      const result = await store.exchange(ME, at(3), alive, { ends: [end], giveBack: back, claim: 0 });
      expect(result.next).toEqual([]);
      expect(await store.get("2")).toEqual({ ...one, id: "2" });
      expect(await store.get("3")).toMatchObject({ status: "cancelled", tries: 0, history: [] });
      // A lease no longer held is left alone.
      await store.exchange(ME, at(4), alive, { ends: [], giveBack: back, claim: 0 });
      expect((await store.claimNext("s", OTHER, at(5), alive))!).toMatchObject({ id: "2", tries: 1 });
    });

    it("recovery gives back a lost worker's tries its beat file shows it never started, and counts one against the one it started", async () => {
      fresh();
      await store.enqueue([input(), input(), input()], T0, noWorker);
      const { next } = await store.exchange(OTHER, at(1), alive, { ends: [], giveBack: [], claim: 3 });
      expect(next).toHaveLength(3);
      const dead: ClaimOptions = { ...alive, liveness: (w) => (w.pid === OTHER.pid ? "dead" : "alive"), startedTask: () => "1" };
      const { recovered } = await store.recover(at(2), dead);
      expect(recovered.sort()).toEqual(["1", "2", "3"]);
      expect(await store.get("1")).toMatchObject({ status: "failed", tries: 1 });
      expect(await store.get("2")).toMatchObject({ status: "queued", tries: 0, history: [] });
      expect(await store.get("3")).toMatchObject({ status: "queued", tries: 0, history: [] });
      // A worker whose beat file cannot tell gets a try counted against each.
      const { next: again } = await store.exchange(OTHER, at(3), alive, { ends: [], giveBack: [], claim: 2 });
      expect(again.map((t) => t.id)).toEqual(["2", "3"]);
      await store.recover(at(4), { ...dead, startedTask: () => null });
      expect(await store.get("2")).toMatchObject({ status: "failed", tries: 1 });
    });

    it("list filters by status and executor, and keeps active tasks within a limit", async () => {
      fresh();
      await store.enqueue([input({ executor: "a" }), input({ executor: "b" }), input({ executor: "a" }), input({ executor: "b" })], T0, noWorker);
      for (let i = 0; i < 2; i++) {
        const claimed = (await store.claimNext("s", ME, at(1), alive))!;
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
      fresh();
      await store.registerWorker("w", ME, T0);
      await store.enqueue([input()], T0, noWorker);
      expect(await store.retireWorker("w", at(1), 1000)).toEqual({ retired: false, nextDueAt: null });
      const claimed = (await store.claimNext("w", ME, at(1), alive))!;
      await store.settle(claimed.id, claimed.lease!, { kind: "succeeded", message: null, result: null }, at(2));
      await store.enqueue([input({ runAt: at(500) })], at(2), noWorker);
      expect(await store.retireWorker("w", at(3), 1000)).toEqual({ retired: false, nextDueAt: at(500).toISOString() });
      expect(await store.retireWorker("w", at(3), 100)).toEqual({ retired: true, nextDueAt: null });
    });

    // Past the active set's limit (1,000 in the file journal) a store may keep plain queued tasks
    // elsewhere (the file journal's cold queue): every operation must still see them as queued tasks.
    describe("a deep queue", () => {
      const DEEP = 1_200;
      const deep = async () => {
        fresh();
        await store.enqueue(Array.from({ length: DEEP }, (_, i) => input({ context: { n: i + 1 } })), T0, noWorker);
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
        const first = (await store.claimNext("w", ME, at(1), alive))!;
        expect(first.id).toBe("1");
        await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
        // Task 1 failed without a retry policy: final.
        const order: string[] = [];
        let now = 3;
        for (let claimed = await store.claimNext("w", ME, at(now), alive); claimed; claimed = await store.claimNext("w", ME, at(++now), alive)) {
          order.push(claimed.id);
          if (claimed.serialKey !== null) {
            // Its serial twin waits while it runs.
            const other = await store.claimNext("v", OTHER, at(now), alive);
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
        expect(await store.claimNext("w", ME, at(3_600_000), alive)).toMatchObject({ id: String(DEEP + 3) });
        expect(await store.get("600")).toMatchObject({ status: "succeeded" });
      });

      it("a retry that comes due is claimed before the queued tasks behind it", async () => {
        fresh();
        await store.enqueue([input({ retry: normaliseRetry({ tries: 1, interval: "10s" }) })], T0, noWorker);
        await store.enqueue(Array.from({ length: DEEP }, () => input()), T0, noWorker);
        const first = (await store.claimNext("w", ME, at(1), alive))!;
        await store.settle(first.id, first.lease!, { kind: "failed", error: { message: "x", stack: null, where: null }, message: null }, at(2));
        expect((await store.claimNext("w", ME, at(3), alive))!.id).toBe("2");
        expect((await store.claimNext("w", ME, at(20_000), alive))!).toMatchObject({ id: "1", tries: 2 });
        expect((await store.claimNext("w", ME, at(20_001), alive))!.id).toBe("3");
      });

      it("a claim that refuses queued tasks (a tick's budget) leaves them queued, in order", async () => {
        await deep();
        const refuseEven: ClaimOptions = { ...alive, accept: (task) => Number(task.id) % 2 === 1 };
        expect((await store.claimNext("w", ME, at(1), refuseEven))!.id).toBe("1");
        expect((await store.claimNext("w", ME, at(2), refuseEven))!.id).toBe("3");
        expect((await store.list({ statuses: ["queued"], limit: 3 })).map((t) => t.id)).toEqual(["2", "4", "5"]);
        expect((await store.claimNext("w", ME, at(3), alive))!.id).toBe("2");
      });

      it("a deep enqueue reserves a worker slot for its tasks, as a shallow one does", async () => {
        fresh();
        const options: EnqueueOptions = { maxWorkers: 2, liveness: () => "alive", scheduleWindowMs: 0 };
        expect((await store.enqueue(Array.from({ length: DEEP }, () => input()), T0, options)).workerSlot).not.toBeNull();
        expect((await store.enqueue(Array.from({ length: DEEP }, () => input()), T0, options)).workerSlot).not.toBeNull();
        expect((await store.enqueue([input()], T0, options)).workerSlot).toBeNull();
      });

      it("a worker retires only once the deep queue is drained", async () => {
        await deep();
        expect(await store.retireWorker("w", at(1), 0)).toEqual({ retired: false, nextDueAt: null });
        const options: EnqueueOptions = { maxWorkers: 3, liveness: () => "alive", scheduleWindowMs: 0 };
        expect(await store.reserveWorker(at(1), options)).not.toBeNull();
      });
    });
  });
}

describeJournalStore("FileJournal", () => {
  const home = join(mkdtempSync(join(tmpdir(), "bgtask-contract-")), "home");
  return {
    store: new FileJournal(home, { staleMs: 2_000, waitMs: 10_000 }),
    dispose: () => rmSync(join(home, ".."), { recursive: true, force: true }),
  };
});
