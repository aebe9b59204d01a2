// The recovery rules: what a running try's worker is, from facts the caller gathered about it
// (its process, its beat file, the task it says it started), and what that makes of the try.
// Pure, like transitions.ts: stores apply the verdicts; the host gathers the facts and kills.
import type { TaskRecord, WorkerRef } from "./task.ts";
import { canGiveBack, giveBack, OUTSIDE_FORCE_MARGIN_MS, overdueOutcome, recoverFromDeadWorker, settle, type TryOutcome } from "./transitions.ts";

/** Whether the process a record names is still the one that wrote it; "unknown" on another host, where only the heartbeat can tell. */
export type Liveness = "alive" | "dead" | "unknown";

/** What the caller found out about a running try's worker, outside the store. */
export interface WorkerFacts {
  liveness: Liveness;
  /** When the worker last renewed its beat outside the journal (ms since the epoch), or null: a heartbeat stuck behind the journal lock is not silence. */
  lastBeatAt: number | null;
  /** The tasks the worker had started and not recorded, as its beat file says (those it claimed ahead are not among them); null when that cannot be told. */
  started: readonly string[] | null;
  /** Its process can be checked and killed from here (this host, a known start time): only then is an overdue try forced. */
  killable: boolean;
}

export interface RecoveryLimits {
  /** A try whose heartbeat (in the journal and outside it) is older than this is presumed lost even if its process looks alive. */
  heartbeatTimeoutMs: number;
  /** A try still running this long (plus OUTSIDE_FORCE_MARGIN_MS) after its cancel or timeout is forced. */
  graceMs: number;
}

/**
 * What to do with a running try. `lost`: its worker died or went silent; `giveBack` when it never
 * started the try (claimed ahead into its local queue), so no try is counted; `dead` when its
 * process is gone (its executor's children, left in its process group, are killed before a new
 * try). `overdue`: it outlived its cancel or timeout and is forced with `outcome`.
 */
export type Verdict = { kind: "fine" } | { kind: "lost"; reason: string; giveBack: boolean; dead: boolean } | { kind: "overdue"; outcome: TryOutcome };

/** A verdict to apply under the try's lease: a store applies it only while `lease` still holds the task. */
export interface TryVerdict {
  id: string;
  lease: string;
  verdict: Exclude<Verdict, { kind: "fine" }>;
}

/**
 * The journal's clock as one host sees it. Heartbeats are stamped and judged on it, never on a
 * host's own clock: a host a minute ahead would see every other host's workers a minute silent,
 * and one a minute behind would hide a dead worker for a minute.
 */
export interface JournalClock {
  /** The journal's time minus this host's (ms): 0 where the journal's clock is this host's. */
  offsetMs: number;
  /** When the journal last started (ms since the epoch, on its clock), or null: no heartbeat could reach it before. */
  startedAt: number | null;
}

/** A journal on this machine: its clock is the host's, and it is never down while its writers live. */
export const LOCAL_CLOCK: JournalClock = { offsetMs: 0, startedAt: null };

/**
 * How long a try has been silent in the journal at `now` (this host's clock), on the journal's
 * clock. Counted from the journal's start when that is later than the try's last heartbeat: while
 * the database was down nobody could beat, so after a restart every live worker gets a whole
 * heartbeat timeout to beat again.
 */
export function silenceMs(task: TaskRecord, now: Date, clock: JournalClock): number {
  if (!task.heartbeatAt) return Infinity;
  return now.getTime() + clock.offsetMs - Math.max(Date.parse(task.heartbeatAt), clock.startedAt ?? -Infinity);
}

export function judgeTry(task: TaskRecord, facts: WorkerFacts, now: Date, limits: RecoveryLimits, clock: JournalClock = LOCAL_CLOCK): Verdict {
  if (task.status !== "running" || task.worker === null) return { kind: "fine" };
  let silentMs = silenceMs(task, now, clock);
  // The beat file is this host's, on this host's clock, as `now` is.
  if (silentMs > limits.heartbeatTimeoutMs && facts.lastBeatAt !== null) silentMs = Math.min(silentMs, now.getTime() - facts.lastBeatAt);
  const dead = facts.liveness === "dead";
  if (dead || silentMs > limits.heartbeatTimeoutMs) {
    const reason = dead ? "its process is gone" : `no heartbeat for ${Math.round(silentMs / 1000)}s`;
    const neverStarted = canGiveBack(task) && facts.started !== null && !facts.started.includes(task.id);
    // Alive but silent (stopped, hung, cut off): not killed; its lease fences it if it wakes up.
    return { kind: "lost", reason, giveBack: neverStarted, dead };
  }
  const outcome = facts.killable ? overdueOutcome(task, now, limits.graceMs, OUTSIDE_FORCE_MARGIN_MS) : null;
  return outcome ? { kind: "overdue", outcome } : { kind: "fine" };
}

/** The task after its verdict: given back, failed as lost, or settled as forced. */
export function applyVerdict(task: TaskRecord, verdict: TryVerdict["verdict"], now: Date): TaskRecord {
  if (verdict.kind === "overdue") return settle(task, verdict.outcome, now);
  return verdict.giveBack && canGiveBack(task) ? giveBack(task, now) : recoverFromDeadWorker(task, now, verdict.reason);
}

/** The process that holds the tick mutex. */
export interface TickHolder {
  process: WorkerRef;
  since: string;
  /** Another host cannot check the process: past this time its hold is void. */
  expiresAt: string;
}

/** Config `tickScope`: one tick at a time for the whole journal, or one per host. */
export type TickScope = "cluster" | "host";

/** The name of the tick mutex a tick on `host` takes under `scope`: stores keep one holder per name. */
export function tickMutexName(scope: TickScope, host: string): string {
  return scope === "cluster" ? "cluster" : `host:${host}`;
}

export function isSameHolder(a: TickHolder, b: TickHolder): boolean {
  return a.since === b.since && a.process.pid === b.process.pid;
}

/** A dead holder (pid gone, or reused: start time differs) frees the tick mutex at once; one on another host after its expiry. */
export function holdsTick(holder: TickHolder, liveness: Liveness, now: Date): boolean {
  return liveness === "alive" || (liveness === "unknown" && now.getTime() < Date.parse(holder.expiresAt));
}
