// The supervisor thread of a worker (or tick) process. It owns what must not depend on the main
// thread's event loop, which a busy executor can block for as long as it likes:
//  - the heartbeat of every running try (so a long synchronous computation is not mistaken for a hang);
//  - noticing a cancel request and the try's timeout, and aborting task.signal through the main thread;
//  - noticing that the try's lease is gone (the worker was presumed dead and its try given away);
//  - a try that has not ended a grace period after its cancel or timeout: its outcome recorded under
//    its lease, and the main thread told to let it go (it cannot be stopped from outside while its
//    neighbours run on; the worker retires once they end);
//  - forcing: after a second SIGTERM, a try cut off from the journal, or a main thread that does not
//    let a leaked try go, it records every try's outcome under its lease, starts a replacement
//    worker if work remains (not when the worker was told to stop), and SIGKILLs its own process
//    group, executor children included.
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
import { WatchBoard, type FromSupervisor, type SupervisorData, type ToSupervisor, type WatchedTry } from "./supervisor.ts";

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
  place: number;
  lastBeat: number;
  lost: boolean;
  /** Abort reasons already sent to the main thread. */
  sent: Set<AbortReason>;
  force: { at: number; reason: ForceReason; message?: string } | null;
  /** When its try was recorded as forced and the main thread told to let it go (see LeakNotice). */
  leakedAt: number | null;
  checking: boolean;
}

/** The main thread must let a leaked try go (unwatch it) within this; one that does not is blocked, and the process is killed. */
const LEAK_ACK_MS = 1_000;

const watched: Array<Watch | null> = Array.from({ length: board.size }, () => null);
let complaint: { text: string; at: number } | null = null;
let forcing = false;

/** Says what went wrong, but the same thing only once a minute: a full disk fails every check. */
function complain(text: string): void {
  const now = Date.now();
  if (complaint?.text === text && now - complaint.at < 60_000) return;
  complaint = { text, at: now };
  workerSay(text);
}

/** Still the try the main thread runs in its place (it may have ended before its unwatch is seen). */
function isCurrent(watch: Watch): boolean {
  return watched[watch.place] === watch && board.generation(watch.place) === watch.generation;
}

function send(message: FromSupervisor): void {
  parentPort!.postMessage(message);
}

function abort(watch: Watch, reason: AbortReason): void {
  if (watch.sent.has(reason)) return;
  watch.sent.add(reason);
  send({ type: "abort", lease: watch.lease, reason });
}

function forceAt(watch: Watch, at: number, reason: ForceReason, message?: string): void {
  if (watch.force === null || at < watch.force.at) watch.force = { at, reason, message };
}

/** Takes up the try the main thread posted last in `place`, if it changed since the last check. */
function observe(place: number): void {
  const posted = board.read(place);
  const current = watched[place] ?? null;
  if (posted === undefined || posted?.generation === current?.generation) return;
  if (posted === null) {
    watched[place] = null;
    return;
  }
  // From the heartbeat the journal holds (the claim's), not the start: a try whose start took long
  // (loading its executor) has been silent to other hosts since its claim.
  watched[place] = {
    ...posted,
    place,
    lastBeat: Math.min(posted.beatAt, posted.since),
    lost: false,
    sent: new Set(),
    force: null,
    leakedAt: null,
    checking: false,
  };
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
  if (forcing) return;
  for (let place = 0; place < watched.length; place++) {
    if (!watched[place]?.checking) observe(place);
    const watch = watched[place];
    if (watch) void checkOne(watch);
  }
}

async function checkOne(watch: Watch): Promise<void> {
  // Not behind the journal: a check may be stuck on a database that no longer answers.
  fenceIfCutOff(watch, Date.now());
  if (watch.leakedAt !== null) {
    if (Date.now() - watch.leakedAt >= LEAK_ACK_MS && isCurrent(watch)) await forceProcess(watch);
    return;
  }
  if (watch.lost && watch.force !== null && Date.now() >= watch.force.at && isCurrent(watch)) return forceProcess(watch);
  if (watch.checking) return;
  watch.checking = true;
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
    if (watch.force !== null && now >= watch.force.at && isCurrent(watch)) {
      if (watch.force.reason === "shutdown") await forceProcess(watch);
      else await leak(watch);
    }
  } catch (error) {
    complain(`supervisor check failed (will retry): ${(error as Error).message}`);
  } finally {
    watch.checking = false;
  }
}

/**
 * A try past the grace period of its cancel or timeout: recorded as its policy says, and let go by
 * the main thread, whose other tries run on (an inline try cannot be stopped from outside; the
 * worker leaves once they end, and the try with it).
 */
async function leak(watch: Watch): Promise<void> {
  const { reason, message } = watch.force!;
  const asked = reason === "cancelled" ? "its cancel" : "its timeout";
  workerSay(
    `task ${watch.id}: ${message ?? `it did not end within ${graceMs}ms of ${asked}`}; recorded as such, this worker takes no more tasks and leaves once its other tries end`,
  );
  const store = await journal();
  const outcome = forcedOutcome({ timeoutMs: watch.timeoutMs }, reason, graceMs, message);
  await store.settle(watch.id, watch.lease, outcome, new Date()).catch((error: unknown) => {
    if (!(error instanceof LeaseLostError)) throw error;
  });
  watch.leakedAt = Date.now();
  send({ type: "leaked", lease: watch.lease });
}

/**
 * Ends every watched try (failed as the first `watch`'s reason says, retried by its policy) and
 * kills this process: a second stop, a try cut off from the journal, or a main thread too busy to
 * let a leaked try go.
 */
async function forceProcess(first: Watch): Promise<void> {
  if (forcing) return;
  forcing = true;
  board.setForcing();
  const { reason, message } = first.force!;
  const asked = { cancelled: "its cancel", timeout: "its timeout", shutdown: "being stopped" }[reason];
  const why =
    first.leakedAt !== null
      ? `the worker did not let it go within ${LEAK_ACK_MS}ms of its ${asked.slice(4)} being recorded`
      : (message ?? `it did not end within ${graceMs}ms of ${asked}`);
  workerSay(`task ${first.id}: ${why}; killing this worker`);
  try {
    const store = await journal();
    for (const watch of watched) {
      if (watch === null || watch.lost || watch.leakedAt !== null || !isCurrent(watch)) continue;
      const own = watch.force ?? { reason: "shutdown" as const, message: `its worker was killed: task ${first.id} ${why}` };
      const outcome = forcedOutcome({ timeoutMs: watch.timeoutMs }, own.reason, graceMs, own.message);
      await store.settle(watch.id, watch.lease, outcome, new Date()).catch((error: unknown) => {
        if (!(error instanceof LeaseLostError)) throw error;
      });
    }
    // Replaced after a cancel or timeout; not when told to stop (SIGTERM) or fenced off: the next run or tick takes over.
    if (reason !== "shutdown") {
      const { startWorkersIfNeeded } = await import("./spawn.ts");
      await startWorkersIfNeeded(config, store, data.slot);
    }
  } finally {
    // Even when the journal could not be written: a dead worker's try is recovered by the next claim.
    killSelf();
  }
}

parentPort!.on("message", (message: ToSupervisor) => {
  for (let place = 0; place < watched.length; place++) {
    if (!watched[place]?.checking) observe(place);
    const watch = watched[place];
    if (watch && isCurrent(watch)) forceAt(watch, Date.now(), "shutdown", message.message);
  }
  const first = watched.find((watch) => watch !== null && isCurrent(watch) && watch.force !== null);
  if (first) void forceProcess(first);
});

setInterval(() => void check(), CHECK_MS);
