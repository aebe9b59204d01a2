// The rules stores apply and hold none of: core/recovery.ts (a running try plus the facts about
// its worker → a verdict), core/workers.ts (slot demand, reservation expiry, retirement) and
// core/list-order.ts. Pure: clock and facts are inputs.
import { describe, expect, it } from "vitest";
import { compareNewestFinished, finalsWanted, listed } from "../../src/core/list-order.ts";
import { applyVerdict, holdsTick, judgeTry, LOCAL_CLOCK, silenceMs, type WorkerFacts } from "../../src/core/recovery.ts";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { createTask, type NewTask, type TaskRecord, type WorkerRef } from "../../src/core/task.ts";
import { cancel, claim, claimFilterOn, claimPredicate, mayClaimAhead, pickFirst, settle, sortsById } from "../../src/core/transitions.ts";
import { hostDemand, isDemand, isOnHost, isReservationExpired, retirement, SLOT_RESERVATION_MS, wantsWorker } from "../../src/core/workers.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const WORKER: WorkerRef = { pid: 4242, host: "build-01", startTime: 1, bootId: "boot" };
const LIMITS = { heartbeatTimeoutMs: 60_000, graceMs: 5_000 };

function task(id: string, overrides: Partial<NewTask> = {}): TaskRecord {
  return createTask(id, { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides }, T0, 1);
}

function facts(overrides: Partial<WorkerFacts> = {}): WorkerFacts {
  return { liveness: "alive", lastBeatAt: null, started: null, killable: true, ...overrides };
}

const running = (id = "1", overrides: Partial<NewTask> = {}) => claim(task(id, overrides), WORKER, "lease", T0);

describe("judgeTry and applyVerdict", () => {
  it("a live, beating worker's try is fine; a task not running is never judged", () => {
    expect(judgeTry(running(), facts(), at(1_000), LIMITS)).toEqual({ kind: "fine" });
    expect(judgeTry(task("1"), facts({ liveness: "dead" }), at(1_000), LIMITS)).toEqual({ kind: "fine" });
  });

  it("a dead worker's try is lost at once: failed, or given back when its note shows it never started", () => {
    const verdict = judgeTry(running(), facts({ liveness: "dead", started: [] }), at(1_000), LIMITS);
    expect(verdict).toEqual({ kind: "lost", reason: "its process is gone", giveBack: true, dead: true });
    expect(applyVerdict(running(), verdict as never, at(1_000))).toMatchObject({ status: "queued", tries: 0, history: [] });
    const started = judgeTry(running(), facts({ liveness: "dead", started: ["1"] }), at(1_000), LIMITS);
    expect(started).toMatchObject({ kind: "lost", giveBack: false });
    expect(applyVerdict(running(), started as never, at(1_000))).toMatchObject({
      status: "failed",
      error: { message: expect.stringMatching(/its process is gone/) },
    });
    // A note that cannot be read tells nothing: the try counts.
    expect(judgeTry(running(), facts({ liveness: "dead", started: null }), at(1_000), LIMITS)).toMatchObject({ giveBack: false });
  });

  it("a silent worker is lost past the heartbeat timeout unless its beat outside the journal is recent; it is not killed", () => {
    expect(judgeTry(running(), facts(), at(60_000), LIMITS)).toEqual({ kind: "fine" });
    expect(judgeTry(running(), facts(), at(61_000), LIMITS)).toEqual({ kind: "lost", reason: "no heartbeat for 61s", giveBack: false, dead: false });
    expect(judgeTry(running(), facts({ lastBeatAt: at(60_000).getTime() }), at(61_000), LIMITS)).toEqual({ kind: "fine" });
    expect(judgeTry(running(), facts({ liveness: "unknown" }), at(61_000), LIMITS)).toMatchObject({ kind: "lost", dead: false });
  });

  it("a try past its cancel or timeout by the grace period and the outside margin is overdue, only when its worker can be killed", () => {
    const asked = cancel(running(), at(1_000));
    expect(judgeTry(asked, facts(), at(6_999), LIMITS)).toEqual({ kind: "fine" });
    const overdue = judgeTry(asked, facts(), at(7_000), LIMITS);
    expect(overdue).toMatchObject({ kind: "overdue", outcome: { kind: "cancelled" } });
    expect(applyVerdict(asked, overdue as never, at(7_000))).toMatchObject({ status: "cancelled", lease: null });
    expect(judgeTry(asked, facts({ killable: false }), at(7_000), LIMITS)).toEqual({ kind: "fine" });
    const timed = running("2", { timeoutMs: 1_000 });
    expect(judgeTry(timed, facts(), at(7_000), LIMITS)).toMatchObject({
      kind: "overdue",
      outcome: { kind: "failed", message: expect.stringMatching(/timed out/) },
    });
  });

  it("silence is judged on the journal's clock: a host behind or ahead of it judges as one on time does", () => {
    // Stamped on the journal's clock at T0; judged 61 s later (journal time) by hosts whose clocks are off by ±60 s.
    const behind = { offsetMs: 60_000, startedAt: null };
    const ahead = { offsetMs: -60_000, startedAt: null };
    expect(silenceMs(running(), at(61_000), LOCAL_CLOCK)).toBe(61_000);
    expect(silenceMs(running(), at(1_000), behind)).toBe(61_000);
    expect(silenceMs(running(), at(121_000), ahead)).toBe(61_000);
    expect(judgeTry(running(), facts({ liveness: "unknown" }), at(1_000), LIMITS, behind)).toMatchObject({ kind: "lost", reason: "no heartbeat for 61s" });
    expect(judgeTry(running(), facts({ liveness: "unknown" }), at(120_000), LIMITS, ahead)).toEqual({ kind: "fine" });
    // The beat file is on the host's own clock, as `now` is: not shifted.
    expect(judgeTry(running(), facts({ lastBeatAt: at(119_000).getTime() }), at(121_000), LIMITS, ahead)).toEqual({ kind: "fine" });
  });

  it("after the journal restarts, silence counts from its start: every live worker gets a whole timeout to beat again", () => {
    const restarted = { offsetMs: 0, startedAt: at(50_000).getTime() };
    expect(silenceMs(running(), at(70_000), restarted)).toBe(20_000);
    expect(judgeTry(running(), facts({ liveness: "unknown" }), at(109_000), LIMITS, restarted)).toEqual({ kind: "fine" });
    expect(judgeTry(running(), facts({ liveness: "unknown" }), at(111_000), LIMITS, restarted)).toMatchObject({ kind: "lost", reason: "no heartbeat for 61s" });
    // A heartbeat after the start counts from itself; a start long ago changes nothing.
    const beatLater = claim(task("1"), WORKER, "lease", at(60_000));
    expect(silenceMs(beatLater, at(70_000), restarted)).toBe(10_000);
    expect(silenceMs(running(), at(61_000), { offsetMs: 0, startedAt: at(-3_600_000).getTime() })).toBe(61_000);
    // A dead process is dead however recent the restart.
    expect(judgeTry(running(), facts({ liveness: "dead" }), at(51_000), LIMITS, restarted)).toMatchObject({ kind: "lost", dead: true });
  });

  it("the tick mutex is held by a live holder, by another host's until it expires, never by a dead one", () => {
    const holder = { process: WORKER, since: T0.toISOString(), expiresAt: at(60_000).toISOString() };
    expect(holdsTick(holder, "alive", at(120_000))).toBe(true);
    expect(holdsTick(holder, "unknown", at(59_999))).toBe(true);
    expect(holdsTick(holder, "unknown", at(60_000))).toBe(false);
    expect(holdsTick(holder, "dead", T0)).toBe(false);
  });
});

describe("claim filter", () => {
  it("passes over excluded ids and timeouts longer than maxTimeoutMs; no filter lets all through", () => {
    expect(claimPredicate(undefined)).toBeNull();
    expect(claimPredicate({})).toBeNull();
    const accept = claimPredicate({ excludeIds: ["1"], maxTimeoutMs: 1_000 })!;
    expect([task("1"), task("2"), task("3", { timeoutMs: 1_000 }), task("4", { timeoutMs: 1_001 })].filter(accept).map((t) => t.id)).toEqual(["2", "3"]);
  });

  it("a worker's host takes tasks pinned to it or to none; a pinned task never waits in a cold queue", () => {
    const onA = claimPredicate(claimFilterOn("a", undefined))!;
    const tasks = [task("1"), task("2", { pinnedHost: "a" }), task("3", { pinnedHost: "b" })];
    expect(tasks.filter(onA).map((t) => t.id)).toEqual(["1", "2"]);
    expect(claimFilterOn("a", { executors: ["x"] })).toEqual({ executors: ["x"], host: "a" });
    expect(tasks.map(sortsById)).toEqual([true, false, false]);
  });

  it("a batch takes ahead of its start only fresh plain tasks", () => {
    expect(mayClaimAhead(0, task("1", { serialKey: "k" }))).toBe(true);
    expect(mayClaimAhead(1, task("1", { serialKey: "k" }))).toBe(false);
    expect(mayClaimAhead(1, task("1"))).toBe(true);
    // Those that start at once, in free places, may be any task.
    expect(mayClaimAhead(1, task("1", { serialKey: "k" }), 3)).toBe(true);
    expect(mayClaimAhead(3, task("1", { serialKey: "k" }), 3)).toBe(false);
  });

  it("a claim for many places counts serial keys and executor limits among the tasks it takes", () => {
    const limited = (id: string) => task(id, { executor: "mail", concurrency: 2 });
    const running = claim(limited("1"), WORKER, "lease", T0);
    const tasks = [running, limited("2"), limited("3"), task("4", { serialKey: "k" }), task("5", { serialKey: "k" }), task("6")];
    expect(pickFirst(tasks, at(1), 10).map((t) => t.id)).toEqual(["2", "4", "6"]);
    // Without a limit or key in the way, as many as asked for.
    expect(pickFirst([task("7"), task("8"), task("9")], at(1), 2).map((t) => t.id)).toEqual(["7", "8"]);
  });
});

describe("worker slots", () => {
  it("one more worker while this host runs fewer than its limit and all hosts fewer places than the work", () => {
    const work = (claimable: number, local = 0) => ({ claimable, local });
    expect(wantsWorker(0, 0, 2, 1, work(1))).toBe(true);
    expect(wantsWorker(2, 2, 2, 1, work(5))).toBe(false);
    expect(wantsWorker(0, 3, 2, 1, work(3))).toBe(false);
    expect(wantsWorker(0, 2, 2, 1, work(3))).toBe(true);
    // Idle workers elsewhere cannot take what is pinned here; the limit still holds.
    expect(wantsWorker(0, 3, 2, 1, work(3, 1))).toBe(true);
    expect(wantsWorker(1, 3, 2, 1, work(3, 1))).toBe(false);
    expect(wantsWorker(2, 3, 2, 1, work(5, 4))).toBe(false);
    // A worker of 10 places is wanted for each 10 of work: a second once the first has more than it can run.
    expect(wantsWorker(0, 0, 3, 10, work(1))).toBe(true);
    expect(wantsWorker(1, 1, 3, 10, work(10))).toBe(false);
    expect(wantsWorker(1, 1, 3, 10, work(11))).toBe(true);
    expect(wantsWorker(1, 2, 3, 10, work(20, 10))).toBe(false);
    expect(wantsWorker(1, 2, 3, 10, work(20, 11))).toBe(true);
  });

  it("demand on a host: tasks pinned elsewhere are not its work; those pinned to it only its own workers serve", () => {
    const onA = task("1", { pinnedHost: "a" });
    const onB = task("2", { pinnedHost: "b" });
    const runningOnA = claim(task("3"), { ...WORKER, host: "a" }, "lease", T0);
    const runningOnB = claim(task("4", { pinnedHost: "b" }), { ...WORKER, host: "b" }, "lease", T0);
    expect(hostDemand([onA, onB, task("5"), runningOnA, runningOnB], "a")).toEqual({ claimable: 4, local: 2 });
    expect(hostDemand([onA, onB, task("5"), runningOnA, runningOnB], "b", 2)).toEqual({ claimable: 6, local: 2 });
    expect(hostDemand([onB], "a")).toEqual({ claimable: 0, local: 0 });
  });

  it("a worker stays for work pinned to its host or to none, and retires with only tasks pinned elsewhere left", () => {
    const onB = task("1", { pinnedHost: "b" });
    const soonOnB = task("2", { pinnedHost: "b", runAt: at(500) });
    expect(retirement([onB, soonOnB], T0, 1_000, false, undefined, "a")).toEqual({ retired: true, nextDueAt: null });
    expect(retirement([onB, soonOnB], T0, 1_000, false, undefined, "b")).toEqual({ retired: false, nextDueAt: null });
    expect(retirement([soonOnB], T0, 1_000, false, undefined, "b")).toEqual({ retired: false, nextDueAt: at(500).toISOString() });
    expect(retirement([onB], T0, 1_000, false)).toEqual({ retired: false, nextDueAt: null });
  });

  it("a reservation expires when its worker never registers; slots without a host count on every host", () => {
    const reserved = { slot: "s", host: "a", reservedAt: T0.toISOString(), process: null };
    expect(isReservationExpired(reserved, at(SLOT_RESERVATION_MS - 1))).toBe(false);
    expect(isReservationExpired(reserved, at(SLOT_RESERVATION_MS))).toBe(true);
    expect(isReservationExpired({ ...reserved, process: WORKER }, at(10 * SLOT_RESERVATION_MS))).toBe(false);
    expect(isOnHost(reserved, "a")).toBe(true);
    expect(isOnHost(reserved, "b")).toBe(false);
    expect(isOnHost({ slot: "old", reservedAt: T0.toISOString(), process: null }, "b")).toBe(true);
  });

  it("demand is what runs, is runnable, or is due within the window; a worker retires when none is runnable or due soon", () => {
    const soon = task("2", { runAt: at(500) });
    expect([running(), task("1"), soon].map((t) => isDemand(t, T0, 1_000))).toEqual([true, true, true]);
    expect(isDemand(soon, T0, 100)).toBe(false);
    expect(retirement([task("1")], T0, 0, false)).toEqual({ retired: false, nextDueAt: null });
    expect(retirement([], T0, 0, true)).toEqual({ retired: false, nextDueAt: null });
    expect(retirement([soon], T0, 1_000, false)).toEqual({ retired: false, nextDueAt: at(500).toISOString() });
    expect(retirement([soon], T0, 100, false)).toEqual({ retired: true, nextDueAt: null });
  });
});

describe("list order", () => {
  const done = (id: string, ms: number) => settle(running(id), { kind: "succeeded", message: null, result: null }, at(ms));

  it("keeps running and paused tasks first, then the next in line, then the newest finished, shown in id order", () => {
    const paused = { ...task("5"), status: "paused" as const, nextRunAt: T0.toISOString() };
    const finals = [done("1", 1_000), done("2", 3_000), done("3", 2_000)].sort(compareNewestFinished);
    expect(finals.map((t) => t.id)).toEqual(["2", "3", "1"]);
    expect(listed([task("6"), paused, running("4")], finals, 2).map((t) => t.id)).toEqual(["4", "5"]);
    expect(listed([task("6"), paused, running("4")], finals, 5).map((t) => t.id)).toEqual(["2", "3", "4", "5", "6"]);
    expect(listed([task("6")], finals).map((t) => t.id)).toEqual(["1", "2", "3", "6"]);
    expect(finalsWanted(3, 5)).toBe(2);
    expect(finalsWanted(7, 5)).toBe(0);
  });
});
