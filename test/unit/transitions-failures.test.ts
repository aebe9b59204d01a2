// Status changes for cancel, retry, timeouts and recovery: pure functions, checked without a journal.
import { describe, expect, it } from "vitest";
import { createTask, type TaskRecord, type WorkerRef } from "../../src/core/task.ts";
import { normaliseRetry, maxTriesOf } from "../../src/core/retry-policy.ts";
import { cancel, claim, overdueOutcome, promote, recoverFromDeadWorker, rerun, settle } from "../../src/core/transitions.ts";

const worker: WorkerRef = { pid: 4242, host: "test", startTime: 1, bootId: "boot" };
const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

function task(options: { retry?: unknown; timeoutMs?: number | null; runAt?: Date | null } = {}): TaskRecord {
  const retry = normaliseRetry((options.retry ?? null) as never);
  return createTask(
    "7",
    { executor: "x", context: {}, serialKey: null, retry, timeoutMs: options.timeoutMs ?? null, runAt: options.runAt ?? null },
    at(0),
    maxTriesOf(retry),
  );
}

const failure = { kind: "failed" as const, message: null, error: { message: "boom", stack: null, where: null } };

describe("cancel", () => {
  it("ends a queued or scheduled task at once", () => {
    expect(cancel(task(), at(1)).status).toBe("cancelled");
    const scheduled = task({ runAt: at(60_000) });
    expect(scheduled.status).toBe("scheduled");
    expect(cancel(scheduled, at(1))).toMatchObject({ status: "cancelled", completed: true, nextRunAt: null });
  });

  it("asks a running task to stop; a try that then fails or pauses ends cancelled, never retried", () => {
    const running = claim(task({ retry: 3 }), worker, "lease", at(1));
    const requested = cancel(running, at(2));
    expect(requested).toMatchObject({ status: "running", cancelRequestedAt: at(2).toISOString() });
    expect(cancel(requested, at(3)).cancelRequestedAt).toBe(at(2).toISOString());
    expect(settle(requested, failure, at(4))).toMatchObject({ status: "cancelled", completed: true, cancelRequestedAt: null });
    expect(recoverFromDeadWorker(requested, at(4), "gone").status).toBe("cancelled");
    expect(settle(requested, { kind: "succeeded", message: null, result: 1 }, at(4)).status).toBe("succeeded");
  });
});

describe("retry of a final task", () => {
  it("queues it with one more try; the count goes on", () => {
    let t = task({ retry: [{ tries: 1, interval: "1s" }] });
    t = settle(claim(t, worker, "a", at(1)), failure, at(2));
    expect(t).toMatchObject({ status: "scheduled", tries: 1, nextRunAt: at(1002).toISOString() });
    t = settle(claim(t, worker, "b", at(1002)), failure, at(1003));
    expect(t).toMatchObject({ status: "failed", tries: 2, maxTries: 2, remainingTries: 0 });
    const again = rerun(t);
    expect(again).toMatchObject({ status: "queued", completed: false, tries: 2, maxTries: 3, remainingTries: 1, finishedAt: null });
    const third = settle(claim(again, worker, "c", at(2000)), failure, at(2001));
    expect(third).toMatchObject({ status: "failed", tries: 3 });
    expect(third.history.map((h) => h.try)).toEqual([1, 2, 3]);
    expect(() => rerun(again)).toThrow();
  });

  it("clears the error when a later try succeeds; history keeps it", () => {
    const failed = settle(claim(task({ retry: 1 }), worker, "a", at(1)), failure, at(2));
    const done = settle(claim(failed, worker, "b", at(3)), { kind: "succeeded", message: "ok", result: null }, at(4));
    expect(done.error).toBeNull();
    expect(done.history[0]!.error?.message).toBe("boom");
  });
});

describe("timeouts and forcing", () => {
  it("a claim sets the try's timeout; past it and the grace period the try is overdue", () => {
    const running = claim(task({ timeoutMs: 600_000, retry: 1 }), worker, "lease", at(0));
    expect(running.timeoutAt).toBe(at(600_000).toISOString());
    expect(overdueOutcome(running, at(600_000 + 4_999), 5_000)).toBeNull();
    const outcome = overdueOutcome(running, at(605_000), 5_000);
    expect(outcome).toMatchObject({ kind: "failed", error: { message: expect.stringMatching(/^timed out after 10m \(/) } });
    expect(settle(running, outcome!, at(605_000))).toMatchObject({ status: "scheduled", tries: 1, timeoutAt: null });
    expect(overdueOutcome(running, at(605_000), 5_000, 1_000)).toBeNull();
  });

  it("a cancelled try is overdue a grace period after the request", () => {
    const requested = cancel(claim(task(), worker, "lease", at(0)), at(10));
    expect(overdueOutcome(requested, at(1_009), 1_000)).toBeNull();
    expect(overdueOutcome(requested, at(1_010), 1_000)).toMatchObject({ kind: "cancelled" });
  });
});

describe("promote", () => {
  it("queues a scheduled task once due, not before", () => {
    const scheduled = task({ runAt: at(5_000) });
    expect(promote(scheduled, at(4_999))).toBe(scheduled);
    expect(promote(scheduled, at(5_000))).toMatchObject({ status: "queued", nextRunAt: null });
  });
});
