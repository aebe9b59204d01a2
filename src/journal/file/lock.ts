// The cross-process lock around every journal change, held for one read-modify-write. The lock
// file names its holder (pid, start time, boot id, host, pid namespace), so a waiter decides by
// liveness, never by the lock's age alone: a holder blocked in synchronous work for minutes keeps
// it, and one that was killed frees it at once. Only a holder that cannot be checked from here (on
// another host, or in another pid namespace) is judged by age, and the commit path's own checks
// (journal-files.ts) stand behind that guess.
//
// proper-lockfile, which this replaced, judges every holder by the age of its lock's mtime, kept
// fresh by a timer: a holder whose event loop was blocked past the stale time (loading a big active
// set, a bulk enqueue, a compaction on a loaded machine) lost its lock to a waiter, and two writers
// then cut each other's bytes.
import { closeSync, linkSync, lstatSync, openSync, readFileSync, readlinkSync, rmdirSync, statSync, unlinkSync, utimesSync, type Stats } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import type { WorkerRef } from "../../core/task.ts";
import { JournalLockedError, journalIoError } from "../../errors.ts";
import { bootId, liveness, processStartTime } from "../../host/process-identity.ts";
import { writeAll } from "./durable-file.ts";

export interface LockSettings {
  /** A holder that cannot be checked (another host) and has not refreshed its lock for this long is presumed dead. */
  staleMs: number;
  /** Give up when one live holder has kept the lock this long while we waited (a busy lock changes hands). */
  waitMs: number;
}

export interface HeldLock {
  /** Throws when the lock file is no longer ours: the write must not land. */
  assertHeld(): void;
  release(): Promise<void>;
}

export class LockCompromisedError extends Error {}

/** What a lock file says about its holder. */
export interface LockHolder extends WorkerRef {
  /** /proc/self/ns/pid of the holder: a pid means something only inside its own namespace. */
  pidNamespace: string | null;
}

// A holder keeps the lock for well under a millisecond, so a waiter retries after a fraction of
// one, growing to a few.
const FIRST_PAUSE_MS = 0.1;
const MAX_PAUSE_MS = 2;
// Blocking pauses (no event-loop turn) only this long: past it the holder is doing something big
// (a bulk enqueue, a compaction) and the process keeps serving its timers while it waits.
const BLOCKING_WAIT_MS = 50;
const MAX_YIELDING_PAUSE_MS = 25;
/** A holder already judged alive is looked at again this often, in case it died since. */
const REJUDGE_MS = 100;

let cachedNamespace: string | null | undefined;
function pidNamespace(): string | null {
  if (cachedNamespace === undefined) {
    try {
      cachedNamespace = readlinkSync("/proc/self/ns/pid");
    } catch {
      cachedNamespace = null;
    }
  }
  return cachedNamespace;
}

function me(): LockHolder {
  return { pid: process.pid, host: hostname(), startTime: processStartTime(process.pid), bootId: bootId(), pidNamespace: pidNamespace() };
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

// ---- this thread's identity file ------------------------------------------------------------
//
// Each thread writes its identity once to a file of its own beside the lock and takes the lock by
// hard-linking that file to the lock's name: link(2) is atomic and fails when the name exists, so
// the lock never exists without its holder written in it, and "is it still mine" is one stat (the
// lock's inode is the identity file's). Filesystems without hard links get the lock made with
// O_EXCL and the identity written into it.

interface Identity {
  path: string;
  ino: number;
  /** False where the filesystem has no hard links: the lock is created and written instead. */
  linkable: boolean;
}

const identities = new Map<string, Identity>();
const IDENTITY_FILE = /^\.lock-(\d+)-(\d+)-(\d+)$/;

function identityPath(dir: string): string {
  return join(dir, `.lock-${process.pid}-${processStartTime(process.pid) ?? 0}-${threadId}`);
}

function writeIdentity(path: string, flag: string): number {
  const fd = openSync(path, flag, 0o600);
  try {
    writeAll(fd, `${JSON.stringify(me())}\n`);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // never made
    }
    throw error;
  }
  closeSync(fd);
  return statSync(path).ino;
}

function identityFor(dir: string): Identity {
  let identity = identities.get(dir);
  if (identity) return identity;
  const path = identityPath(dir);
  // A leftover of an earlier process with the same pid and start time cannot exist (that is the
  // point of the start time), but one of this process's own earlier runs of the same thread id
  // can: replace it.
  let ino: number;
  try {
    ino = writeIdentity(path, "w");
  } catch (error) {
    // Named by the home: the identity file is ours, the home is what the person can act on.
    throw journalIoError(dir, error);
  }
  identity = { path, ino, linkable: true };
  identities.set(dir, identity);
  if (identities.size === 1) process.once("exit", removeIdentities);
  return identity;
}

function removeIdentities(): void {
  for (const { path } of identities.values()) {
    try {
      unlinkSync(path);
    } catch {
      // gone already
    }
  }
  identities.clear();
}

/** Identity files of processes that are gone (they were killed before their exit handler ran). */
export function sweepIdentities(dir: string, names: readonly string[]): void {
  const boot = bootId();
  for (const name of names) {
    const match = IDENTITY_FILE.exec(name);
    if (!match) continue;
    const ref: WorkerRef = { pid: Number(match[1]), startTime: Number(match[2]) || null, host: hostname(), bootId: boot };
    if (ref.pid === process.pid || liveness(ref) !== "dead") continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // gone already
    }
  }
}

// ---- judging a holder ---------------------------------------------------------------------

type Verdict = "alive" | "gone" | "unknown";

function readHolder(lockPath: string): LockHolder | null {
  try {
    const holder = JSON.parse(readFileSync(lockPath, "utf8")) as LockHolder;
    return typeof holder?.pid === "number" && typeof holder.host === "string" ? holder : null;
  } catch {
    return null;
  }
}

/** Whether the process a lock file names still runs; "unknown" where that cannot be told from here. */
function judgeHolder(holder: LockHolder | null): Verdict {
  if (holder === null) return "unknown";
  const ours = pidNamespace();
  if (holder.pidNamespace !== ours && holder.host === hostname()) {
    // Another container on this machine: a reboot is still visible, its pids are not.
    return holder.bootId !== null && bootId() !== null && holder.bootId !== bootId() ? "gone" : "unknown";
  }
  const state = liveness({ pid: holder.pid, host: holder.host, startTime: holder.startTime ?? null, bootId: holder.bootId ?? null });
  return state === "dead" ? "gone" : state;
}

/**
 * Which acquisition holds the lock now. The inode is the holder's identity file's, the same at each
 * of its acquisitions, so each acquisition dates the lock with a modification time of its own
 * (stamp()), which its refreshes keep; the change time, which they move, tells the lock's age.
 */
function acquisitionOf(stat: Stats): string {
  return `${stat.ino}:${stat.mtimeMs}`;
}

let lastStamp = 0;
/** Now, in seconds with microseconds, and later than any stamp this process made before. */
function stamp(): number {
  lastStamp = Math.max((performance.timeOrigin + performance.now()) / 1000, lastStamp + 1e-6);
  return lastStamp;
}

function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errno(error) === "ENOENT") return null;
    throw journalIoError(path, error);
  }
}

function removeLock(path: string, stat: Stats): void {
  try {
    // A lock folder left by an older bgtask (proper-lockfile's) is removed as a folder.
    if (stat.isDirectory()) rmdirSync(path);
    else unlinkSync(path);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw journalIoError(path, error);
  }
}

/**
 * Removes the lock a gone holder left, if it is still the acquisition that was judged. Breakers
 * take turns through a second lock of the same kind, so the check and the unlink cannot be
 * separated by another breaker's unlink and a new holder's link.
 */
function breakLock(lockPath: string, judged: string, identity: Identity, staleMs: number): void {
  const breakPath = `${lockPath}.break`;
  if (!tryLink(identity, breakPath)) {
    const stat = statOrNull(breakPath);
    // A breaker holds it for microseconds: one that is there now and gone from the process table
    // (or, from another host, there for the stale time) was killed in between.
    const verdict = stat && judgeHolder(readHolder(breakPath));
    if (stat && (verdict === "gone" || (verdict === "unknown" && Date.now() - stat.ctimeMs >= staleMs))) removeLock(breakPath, stat);
    return;
  }
  try {
    const stat = statOrNull(lockPath);
    if (stat && acquisitionOf(stat) === judged) removeLock(lockPath, stat);
  } finally {
    releasePath(breakPath, identity);
  }
}

/** One attempt at making `path` ours; false when it exists. */
function tryLink(identity: Identity, path: string): boolean {
  try {
    if (identity.linkable) linkSync(identity.path, path);
    else writeIdentity(path, "wx");
    return true;
  } catch (error) {
    const code = errno(error);
    if (code === "EEXIST") return false;
    if (code === "ENOENT" && identity.linkable) {
      // Our identity file was removed under us (a person cleaning up): write it again.
      try {
        identity.ino = writeIdentity(identity.path, "w");
      } catch (again) {
        throw journalIoError(identity.path, again);
      }
      return tryLink(identity, path);
    }
    if (identity.linkable && (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EMLINK")) {
      identity.linkable = false;
      return tryLink(identity, path);
    }
    throw journalIoError(path, error);
  }
}

function isOurs(path: string, identity: Identity, ownIno: number): boolean {
  const stat = statOrNull(path);
  return stat !== null && stat.ino === ownIno && (identity.linkable || readHolder(path)?.pid === process.pid);
}

function releasePath(path: string, identity: Identity, ownIno = identity.ino): void {
  if (!isOurs(path, identity, ownIno)) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw journalIoError(path, error);
  }
}

// ---- acquiring ----------------------------------------------------------------------------

const pauseCell = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Attempts are synchronous, so a second transaction of this same thread must not try while the
// first holds the lock across an await: it could block the very event loop the holder needs.
const turns = new Map<string, Promise<void>>();

async function takeTurn(lockPath: string): Promise<() => void> {
  const before = turns.get(lockPath);
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  turns.set(lockPath, mine);
  if (before) await before;
  return () => {
    if (turns.get(lockPath) === mine) turns.delete(lockPath);
    done();
  };
}

/** Takes the journal lock at `lockPath` (in the folder `target`), waiting while a live holder has it. */
export async function acquireLock(target: string, lockPath: string, settings: LockSettings): Promise<HeldLock> {
  const endTurn = await takeTurn(lockPath);
  let identity: Identity;
  try {
    identity = identityFor(target);
    await waitForLock(lockPath, identity, settings);
  } catch (error) {
    endTurn();
    throw error;
  }
  const ownIno = identity.linkable ? identity.ino : (statOrNull(lockPath)?.ino ?? -1);
  const mine = stamp();
  try {
    utimesSync(lockPath, mine, mine);
  } catch (error) {
    try {
      releasePath(lockPath, identity, ownIno);
    } finally {
      endTurn();
    }
    throw journalIoError(lockPath, error);
  }
  // Waiters on other hosts judge us by the lock's age: keep it young while we hold it (its change
  // time moves; its modification time stays this acquisition's).
  const refresh = setInterval(
    () => {
      try {
        utimesSync(lockPath, stamp(), mine);
      } catch {
        // released meanwhile
      }
    },
    Math.max(500, Math.floor(settings.staleMs / 4)),
  );
  refresh.unref();
  return {
    assertHeld() {
      if (!isOurs(lockPath, identity, ownIno)) throw new LockCompromisedError(`the journal lock ${lockPath} is no longer held by this process`);
    },
    async release() {
      clearInterval(refresh);
      try {
        releasePath(lockPath, identity, ownIno);
      } finally {
        endTurn();
      }
    },
  };
}

async function waitForLock(lockPath: string, identity: Identity, settings: LockSettings): Promise<void> {
  const started = Date.now();
  // The acquisition in the way, when it was first seen, and when it was last judged.
  let seen: string | null = null;
  let seenSince = started;
  let judgedAt = -Infinity;
  let verdict: Verdict = "alive";
  let holder: LockHolder | null = null;
  let pauseMs = FIRST_PAUSE_MS;
  for (;;) {
    if (tryLink(identity, lockPath)) return;
    const stat = statOrNull(lockPath);
    if (stat === null) continue; // released in between: try again at once
    const now = Date.now();
    const acquisition = acquisitionOf(stat);
    if (acquisition !== seen) {
      seen = acquisition;
      seenSince = now;
      judgedAt = -Infinity;
    }
    if (now - judgedAt >= REJUDGE_MS) {
      judgedAt = now;
      holder = stat.isDirectory() ? null : readHolder(lockPath);
      verdict = judgeHolder(holder);
    }
    // A holder we cannot check is judged by the age of its lock: the change time, which taking the
    // lock (a link) and each refresh set and nobody can date back or ahead. A lock that names no
    // holder is an older bgtask's (proper-lockfile's, which refreshed its mtime) or one whose writer
    // died between creating and writing it (only where there are no hard links): its mtime.
    const age = now - (holder ? stat.ctimeMs : stat.mtimeMs);
    const stale = verdict === "unknown" && age >= settings.staleMs;
    if (verdict === "gone" || stale) {
      breakLock(lockPath, acquisition, identity, settings.staleMs);
      judgedAt = -Infinity;
      continue;
    }
    // Give up only on a holder that kept the lock all that time. A lock that changed hands
    // meanwhile means the journal is busy, not stuck: with 200 simultaneous `run`s on two cores
    // the last in line waits longer than any one holder holds it (stress test C1).
    if (now - seenSince >= settings.waitMs) throw new JournalLockedError(lockPath, now - seenSince, holder?.pid ?? null);
    // Jitter, so that waiters started together do not retry together.
    const pause = pauseMs * (0.5 + Math.random());
    if (now - started < BLOCKING_WAIT_MS) {
      Atomics.wait(pauseCell, 0, 0, pause);
      pauseMs = Math.min(pauseMs * 1.5, MAX_PAUSE_MS);
    } else {
      await sleep(pause);
      pauseMs = Math.min(pauseMs * 1.5, MAX_YIELDING_PAUSE_MS);
    }
  }
}
