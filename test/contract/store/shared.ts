// What every area of the JournalStore contract shares: a fixed clock, two workers on one host,
// the tasks enqueued, and verdicts judged from facts as worker/recovery.ts judges them.
import { judgeTry, type TryVerdict, type WorkerFacts } from "../../../src/core/recovery.ts";
import { NO_RETRY } from "../../../src/core/retry-policy.ts";
import type { NewTask, WorkerRef } from "../../../src/core/task.ts";
import type { JournalStore, Recovery, SlotRequest } from "../../../src/journal/store.ts";

export const T0 = new Date("2026-01-01T00:00:00.000Z");
export const at = (ms: number) => new Date(T0.getTime() + ms);
export const ME: WorkerRef = { pid: 1001, host: "here", startTime: 5, bootId: "b" };
export const OTHER: WorkerRef = { pid: 1002, host: "here", startTime: 6, bootId: "b" };
export const noWorker = null;
export const slots = (maxWorkers: number, deadSlots: string[] = []): SlotRequest => ({
  host: "here",
  maxWorkers,
  places: 1,
  scheduleWindowMs: 0,
  scheduleDue: false,
  deadSlots,
});
export const succeed = { kind: "succeeded", message: null, result: null } as const;
export const LIMITS = { heartbeatTimeoutMs: 60_000, graceMs: 5_000 };

export function input(overrides: Partial<NewTask> = {}): NewTask {
  return { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null, ...overrides };
}

/** Facts about a worker: alive and beating unless said otherwise. */
export function facts(overrides: Partial<WorkerFacts> = {}): WorkerFacts {
  return { liveness: "alive", lastBeatAt: null, started: null, killable: true, ...overrides };
}

/** Judges every running try the store's survey shows, as worker/recovery.ts does. */
export async function judged(store: JournalStore, now: Date, factsOf: (worker: WorkerRef) => WorkerFacts, deadSlots: string[] = []): Promise<Recovery> {
  const verdicts: TryVerdict[] = [];
  for (const task of (await store.survey("here")).running) {
    const verdict = judgeTry(task, factsOf(task.worker!), now, LIMITS);
    if (verdict.kind !== "fine") verdicts.push({ id: task.id, lease: task.lease!, verdict });
  }
  return { verdicts, deadSlots };
}

export const otherIs = (other: Partial<WorkerFacts>) => (worker: WorkerRef) => (worker.pid === OTHER.pid ? facts(other) : facts());

export interface OpenedStore {
  store: JournalStore;
  /** Removes what the store left (its folder); called after close(). */
  dispose(): void | Promise<void>;
}

/** How an area's tests get their store: a fresh one per test, closed and disposed after it. */
export interface StoreSuite {
  fresh(): Promise<JournalStore>;
}
