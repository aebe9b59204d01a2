// core/transitions.ts: the only place a status changes. Pure: clock, worker and lease are inputs.
import { describe, expect, it } from "vitest";
import { normaliseRetry } from "../../src/core/retry-policy.ts";
import { createTask, type NewTask, type TaskRecord, type WorkerRef } from "../../src/core/task.ts";
import { claim, compareIds, isHeldBy, isRunnable, pickNext, recoverFromDeadWorker, settle } from "../../src/core/transitions.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const WORKER: WorkerRef = { pid: 4242, host: "build-01", startTime: 1, bootId: "boot" };

function task(id: string, overrides: Partial<NewTask> = {}, maxTries = 1): TaskRecord {
  return createTask(
    id,
    { executor: "x", context: {}, serialKey: null, retry: normaliseRetry(maxTries - 1), timeoutMs: null, runAt: null, ...overrides },
    T0,
    maxTries,
  );
}

describe("isRunnable and pickNext", () => {
  it("runs queued tasks, and scheduled or paused ones once due", () => {
    expect(isRunnable(task("1"), T0)).toBe(true);
    const later = task("2", { runAt: at(60_000) });
    expect(later.status).toBe("scheduled");
    expect(isRunnable(later, at(59_999))).toBe(false);
    expect(isRunnable(later, at(60_000))).toBe(true);
    expect(isRunnable({ ...task("3"), status: "paused", nextRunAt: null }, T0)).toBe(true);
    for (const status of ["running", "succeeded", "failed", "cancelled"] as const) expect(isRunnable({ ...task("4"), status }, T0)).toBe(false);
  });

  it("a run time already past queues at once", () => {
    expect(task("1", { runAt: at(-1000) }).status).toBe("queued");
  });

  it("orders ids numerically and picks the oldest runnable task", () => {
    expect(["10", "9", "100", "1"].sort(compareIds)).toEqual(["1", "9", "10", "100"]);
    expect(pickNext([task("10"), task("9"), task("11")], T0)?.id).toBe("9");
    expect(pickNext([task("2", { runAt: at(1000) }), task("3")], T0)?.id).toBe("3");
    expect(pickNext([], T0)).toBeUndefined();
  });

  it("skips a task whose serial key is running, and takes the next free one", () => {
    const running = { ...task("1", { serialKey: "s" }), status: "running" as const };
    const tasks = [running, task("2", { serialKey: "s" }), task("3", { serialKey: "other" }), task("4")];
    expect(pickNext(tasks, T0)?.id).toBe("3");
    expect(pickNext([running, task("2", { serialKey: "s" })], T0)).toBeUndefined();
    expect(pickNext([{ ...running, status: "succeeded" }, task("2", { serialKey: "s" })], T0)?.id).toBe("2");
  });
});

describe("claim", () => {
  it("starts a new try owned by the worker and its lease", () => {
    const claimed = claim(task("1", {}, 3), WORKER, "lease-1", at(5));
    expect(claimed).toMatchObject({
      status: "running",
      tries: 1,
      remainingTries: 2,
      progress: 0,
      worker: WORKER,
      lease: "lease-1",
      startedAt: at(5).toISOString(),
      heartbeatAt: at(5).toISOString(),
    });
    expect(claimed.history).toEqual([{ try: 1, startedAt: at(5).toISOString(), finishedAt: null, status: "running", error: null, worker: WORKER }]);
    expect(isHeldBy(claimed, "lease-1")).toBe(true);
    expect(isHeldBy(claimed, "lease-2")).toBe(false);
  });

  it("resumes a paused task within the same try", () => {
    const paused = { ...claim(task("1"), WORKER, "a", T0), status: "paused" as const, lease: null, progress: 40 };
    const resumed = claim(paused, WORKER, "b", at(10));
    expect(resumed).toMatchObject({ status: "running", tries: 1, lease: "b", progress: 40 });
    expect(resumed.history).toHaveLength(1);
  });
});

describe("settle", () => {
  const running = (maxTries = 1, retry?: ReturnType<typeof normaliseRetry>) => {
    const base = task("1", retry ? { retry } : {}, maxTries);
    return claim(base, WORKER, "lease", at(1));
  };
  const error = { message: "boom", stack: "Error: boom", where: "tasks/x.ts:3" };

  it("succeeded is final, with message, result and a closed try", () => {
    const done = settle(running(), { kind: "succeeded", message: "ok", result: { n: 1 } }, at(2));
    expect(done).toMatchObject({
      status: "succeeded",
      completed: true,
      progress: 100,
      message: "ok",
      result: { n: 1 },
      lease: null,
      worker: null,
      finishedAt: at(2).toISOString(),
    });
    expect(done.history[0]).toMatchObject({ status: "succeeded", finishedAt: at(2).toISOString() });
    expect(isHeldBy(done, "lease")).toBe(false);
  });

  it("a failed try is scheduled again by the retry policy while tries remain, then fails for good", () => {
    const policy = normaliseRetry({ tries: 1, interval: "30s" });
    const first = settle(running(2, policy), { kind: "failed", error, message: null }, at(2));
    expect(first).toMatchObject({ status: "scheduled", completed: false, message: "boom", error, nextRunAt: at(30_002).toISOString(), finishedAt: null });
    const second = settle(claim(first, WORKER, "l2", at(30_002)), { kind: "failed", error, message: "import failed: boom" }, at(30_003));
    expect(second).toMatchObject({ status: "failed", completed: true, tries: 2, remainingTries: 0, message: "import failed: boom", nextRunAt: null });
    expect(second.history.map((h) => [h.try, h.status])).toEqual([
      [1, "failed"],
      [2, "failed"],
    ]);
  });

  it("an unrecoverable failure is final at once; retryAfterMs overrides the interval", () => {
    const policy = normaliseRetry({ tries: 3, interval: "30s" });
    expect(settle(running(4, policy), { kind: "failed", error, message: null, unrecoverable: true }, at(2)).status).toBe("failed");
    expect(settle(running(4, policy), { kind: "failed", error, message: null, retryAfterMs: 5 }, at(2)).nextRunAt).toBe(at(7).toISOString());
  });

  it("cancelled is final; paused keeps the try open for the next worker", () => {
    expect(settle(running(), { kind: "cancelled", message: null }, at(2))).toMatchObject({ status: "cancelled", completed: true, message: "cancelled" });
    const paused = settle(running(), { kind: "paused", message: "half way" }, at(2));
    expect(paused).toMatchObject({ status: "paused", completed: false, tries: 1, lease: null, message: "half way" });
    expect(paused.history[0]!.finishedAt).toBeNull();
  });
});

describe("recoverFromDeadWorker", () => {
  it("fails the try saying which worker died and why, retrying when tries remain", () => {
    const dead = recoverFromDeadWorker(claim(task("1"), WORKER, "l", T0), at(1), "its process is gone");
    expect(dead.status).toBe("failed");
    expect(dead.error!.message).toBe("the worker running this task died (pid 4242 on build-01): its process is gone");
    const retried = recoverFromDeadWorker(claim(task("1", { retry: normaliseRetry(1) }, 2), WORKER, "l", T0), at(1), "no heartbeat for 31s");
    expect(retried).toMatchObject({ status: "scheduled", tries: 1, lease: null, worker: null });
  });
});
