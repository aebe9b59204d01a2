// The supervisor thread of a worker (or tick) process. It owns what must not depend on the main
// thread's event loop, which a busy executor can block for as long as it likes:
//  - the heartbeat of the running try (so a long synchronous computation is not mistaken for a hang);
//  - noticing a cancel request and the try's timeout, and aborting task.signal through the main thread;
//  - noticing that the try's lease is gone (the worker was presumed dead and its try given away);
//  - forcing: when the try has not ended a grace period after its cancel, timeout or a second SIGTERM,
//    it records the outcome under the lease, starts a replacement worker if work remains (not when
//    the worker was told to stop), and SIGKILLs its own process group, executor children included.
// A whole-process freeze (SIGSTOP, a suspended VM) stops this thread too; the heartbeat timeout and
// the lease cover that case from the outside.
import { parentPort, workerData } from "node:worker_threads";
import { forcedOutcome, type ForceReason } from "../core/transitions.ts";
import { LeaseLostError } from "../errors.ts";
import { startBeating } from "../host/beat.ts";
import { killSelf } from "../host/process-identity.ts";
import { journalKind } from "../journal/open.ts";
import type { JournalStore } from "../journal/store.ts";
import { AbortReason } from "./abort-reasons.ts";
import { workerSay } from "./worker-log.ts";
import { WatchBoard, type AbortRequest, type SupervisorData, type ToSupervisor, type WatchedTry } from "./supervisor.ts";

const data = workerData as SupervisorData;
const board = new WatchBoard(data.shared);
const { config } = data;
let opened: Promise<JournalStore> | null = null;

/**
 * The journal, loaded on first use: a drain of tries shorter than CHECK_MS never needs it, and
 * its code and its copy of the active set are most of this thread's memory. Opening it again on
 * the next check when it failed: a database down at that moment (restarting) refuses at once, and
 * a failure kept would leave the try without heartbeats for good.
 */
function journal(): Promise<JournalStore> {
  opened ??= import("../journal/open.ts")
    .then(({ openStore }) => openStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs }))
    .catch((error: unknown) => {
      opened = null;
      throw error;
    });
  return opened;
}
const { heartbeatMs, heartbeatTimeoutMs, cancelGraceMs: graceMs } = config.timings;
const CHECK_MS = Math.min(500, heartbeatMs);
/**
 * On a journal shared by hosts (PostgreSQL), another host judges this worker by its heartbeat in
 * the journal alone and may take its try over once it is heartbeatTimeoutMs old. A worker cut off
 * from the journal for this long stops its try and is killed a grace period later: gone before
 * anyone may take over (when the grace period is shorter than the timeout, as by default). Never
 * sooner than three missed beats. Null where the host's own checks (process, beat file) keep it safe.
 */
const FENCE_AFTER_MS =
  journalKind(config.journal) === "postgres" ? Math.max(3 * heartbeatMs, heartbeatTimeoutMs - graceMs - Math.min(2_000, heartbeatTimeoutMs / 4)) : null;
startBeating(config.home, heartbeatMs);

interface Watch extends WatchedTry {
  lastBeat: number;
  lost: boolean;
  /** Abort reasons already sent to the main thread. */
  sent: Set<AbortReason>;
  force: { at: number; reason: ForceReason; message?: string } | null;
}

let watched: Watch | null = null;
let checking = false;
let complaint: { text: string; at: number } | null = null;

/** Says what went wrong, but the same thing only once a minute: a full disk fails every check. */
function complain(text: string): void {
  const now = Date.now();
  if (complaint?.text === text && now - complaint.at < 60_000) return;
  complaint = { text, at: now };
  workerSay(text);
}

/** Still the try the main thread runs (it may have ended before its "unwatch" message arrives). */
function isCurrent(watch: Watch): boolean {
  return watched === watch && board.generation === watch.generation;
}

function abort(watch: Watch, reason: AbortReason): void {
  if (watch.sent.has(reason)) return;
  watch.sent.add(reason);
  const request: AbortRequest = { type: "abort", lease: watch.lease, reason };
  parentPort!.postMessage(request);
}

function forceAt(watch: Watch, at: number, reason: ForceReason, message?: string): void {
  if (watch.force === null || at < watch.force.at) watch.force = { at, reason, message };
}

/** Takes up the try the main thread posted last, if it changed since the last check. */
function observe(): void {
  const posted = board.read();
  if (posted === undefined || posted?.generation === watched?.generation) return;
  if (posted === null) {
    watched = null;
    return;
  }
  // From the heartbeat the journal holds (the claim's), not the start: a try whose start took long
  // (loading its executor) has been silent to other hosts since its claim.
  watched = { ...posted, lastBeat: Math.min(posted.beatAt, posted.since), lost: false, sent: new Set(), force: null };
}

/** Stops a try whose heartbeats have not reached the journal for FENCE_AFTER_MS (see there). */
function fenceIfCutOff(watch: Watch, now: number): void {
  if (FENCE_AFTER_MS === null || watch.lost || now - watch.lastBeat < FENCE_AFTER_MS || !isCurrent(watch)) return;
  watch.lost = true;
  workerSay(
    `task ${watch.id}: no heartbeat reached the journal for ${Math.round((now - watch.lastBeat) / 1000)}s; stopping this try before another worker may take it over`,
  );
  abort(watch, AbortReason.leaseLost);
  forceAt(watch, now + graceMs, "shutdown", "it did not stop after being cut off from the journal");
}

async function check(): Promise<void> {
  if (!checking) observe();
  const watch = watched;
  if (watch === null) return;
  // Not behind the journal: a check may be stuck on a database that no longer answers.
  fenceIfCutOff(watch, Date.now());
  if (watch.lost && watch.force !== null && Date.now() >= watch.force.at && isCurrent(watch)) return force(watch);
  if (checking) return;
  checking = true;
  try {
    const now = Date.now();
    // A try shorter than one check interval is never read back: a drain of quick tasks costs no polls.
    if (!watch.lost && now - watch.since >= CHECK_MS) {
      const store = await journal();
      const control = await store.tryControl(watch.id, watch.lease);
      if (control.held && now - watch.lastBeat >= heartbeatMs) {
        await store.report(watch.id, watch.lease, {}, new Date()).then(
          () => (watch.lastBeat = now),
          (error: unknown) => {
            if (error instanceof LeaseLostError) control.held = false;
            // Not fatal to the check: cancel and timeout are still watched, and the beat file
            // (renewed without the journal) still shows this worker alive to recovery.
            else complain(`task ${watch.id}: its heartbeat could not be written to the journal (${(error as Error).message}); will retry`);
          },
        );
      }
      if (!control.held && isCurrent(watch)) {
        // Given away while this process was frozen or cut off: stop, write nothing more.
        watch.lost = true;
        workerSay(`task ${watch.id}: this try was given to another worker (this one was presumed dead); stopping it`);
        abort(watch, AbortReason.leaseLost);
        forceAt(watch, now + graceMs, "shutdown", "it did not stop after its try was given to another worker");
      }
      if (control.cancelRequestedAt) {
        abort(watch, AbortReason.cancelled);
        forceAt(watch, Date.parse(control.cancelRequestedAt) + graceMs, "cancelled");
      }
    }
    if (watch.timeoutAt !== null && now >= watch.timeoutAt) {
      abort(watch, AbortReason.timeout);
      forceAt(watch, watch.timeoutAt + graceMs, "timeout");
    }
    if (watch.force !== null && now >= watch.force.at && isCurrent(watch)) await force(watch);
  } catch (error) {
    complain(`supervisor check failed (will retry): ${(error as Error).message}`);
  } finally {
    checking = false;
  }
}

async function force(watch: Watch): Promise<void> {
  board.setForcing();
  const { reason, message } = watch.force!;
  const asked = { cancelled: "its cancel", timeout: "its timeout", shutdown: "being stopped" }[reason];
  workerSay(`task ${watch.id}: ${message ?? `it did not end within ${graceMs}ms of ${asked}`}; killing this worker`);
  try {
    if (!watch.lost) {
      const store = await journal();
      const outcome = forcedOutcome({ timeoutMs: watch.timeoutMs }, reason, graceMs, message);
      await store.settle(watch.id, watch.lease, outcome, new Date()).catch((error: unknown) => {
        if (!(error instanceof LeaseLostError)) throw error;
      });
    }
    // Replaced after a cancel or timeout; not when told to stop (SIGTERM) or fenced off: the next run or tick takes over.
    if (reason !== "shutdown") {
      const { startWorkerIfNeeded } = await import("./spawn.ts");
      await startWorkerIfNeeded(config, await journal(), data.slot);
    }
  } finally {
    // Even when the journal could not be written: a dead worker's try is recovered by the next claim.
    killSelf();
  }
}

parentPort!.on("message", (message: ToSupervisor) => {
  observe();
  if (watched !== null && isCurrent(watched)) {
    forceAt(watched, Date.now(), "shutdown", message.message);
    void check();
  }
});

setInterval(() => void check(), CHECK_MS);
