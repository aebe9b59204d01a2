// The cross-process lock around every journal change: proper-lockfile's lock, held only for
// one read-modify-write. A lock left by a killed process goes stale and is taken over; a holder
// whose lock was compromised is told before it commits, instead of being crashed by a throw.
import { closeSync, openSync, realpathSync, rmdirSync, statSync, unlinkSync, utimesSync } from "node:fs";
import lockfile from "proper-lockfile";
import { JournalLockedError } from "../errors.ts";

export interface LockSettings {
  /** A lock not refreshed for this long is presumed left by a dead process. */
  staleMs: number;
  /** Give up when one holder has kept the lock this long while we waited (a busy lock changes hands). */
  waitMs: number;
}

export interface HeldLock {
  /** Throws when the lock was taken away from us (stalled past `staleMs`): the write must not land. */
  assertHeld(): void;
  release(): Promise<void>;
}

export class LockCompromisedError extends Error {}

// A holder keeps the lock for well under a millisecond, so a waiter retries after a fraction of
// one, growing to a few: proper-lockfile's own retries sleep 2–50 ms through timers (and build an
// array of every timeout in advance on each acquisition).
const FIRST_PAUSE_MS = 0.1;
const MAX_PAUSE_MS = 2;
// Blocking pauses (no event-loop turn) only this long: past it the holder is doing something big
// (a bulk enqueue, a compaction) or died, and the process keeps serving its timers while it waits.
const BLOCKING_WAIT_MS = 50;
const MAX_YIELDING_PAUSE_MS = 25;

// What proper-lockfile's sync mode calls. Its default (graceful-fs, whose queue only serves async
// opens) is copied property by property on every lockSync call: ≈0.09 ms (measured on a busy
// machine), as much as the mkdir.
//
// The lock is a file made with O_EXCL instead of proper-lockfile's folder: the same atomic "exists
// already" answer, its mtime refreshed and judged stale the same way, but on ext4 a file's create
// and unlink cost ≈90 µs where mkdir and rmdir cost ≈280 µs, and in a draining worker the folder
// pair took half of all the time (profiled: 10 of 20 s for 10,000 tasks). A lock folder left by an
// older bgtask still excludes us (EEXIST) and is removed as a folder once stale.
const lockFs = {
  mkdirSync(path: string) {
    closeSync(openSync(path, "wx", 0o600));
  },
  rmdirSync(path: string) {
    try {
      unlinkSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EISDIR" && code !== "EPERM") throw error;
      rmdirSync(path);
    }
  },
  realpathSync,
  statSync,
  utimesSync,
};

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

/**
 * Which acquisition of the lock this is: every holder makes the file anew, and the inode number
 * alone is often reused at once, its birth time is not (on filesystems without birth times this
 * degrades to the inode, and a busy lock may be taken for a stuck one).
 */
function holderOf(lockPath: string): string | null {
  try {
    const { ino, birthtimeMs } = statSync(lockPath);
    return `${ino}:${birthtimeMs}`;
  } catch {
    return null;
  }
}

/** One attempt: the release function, or null while someone else (not stale) holds it. */
function tryLock(target: string, lockPath: string, staleMs: number, onCompromised: (error: Error) => void): (() => void) | null {
  try {
    return lockfile.lockSync(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: staleMs,
      update: Math.max(1000, Math.floor(staleMs / 4)),
      onCompromised,
      fs: lockFs,
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") return null;
    throw error;
  }
}

export async function acquireLock(target: string, lockPath: string, settings: LockSettings): Promise<HeldLock> {
  const endTurn = await takeTurn(lockPath);
  let compromised: Error | null = null;
  const onCompromised = (error: Error) => {
    compromised = error;
  };
  let release: () => void;
  try {
    const started = Date.now();
    // Sampled only once someone is in the way, and again when the wait runs out.
    let holder: string | null | undefined;
    let heldSince = started;
    let pauseMs = FIRST_PAUSE_MS;
    for (;;) {
      const held = tryLock(target, lockPath, settings.staleMs, onCompromised);
      if (held) {
        release = held;
        break;
      }
      const now = Date.now();
      const waited = now - started;
      if (holder === undefined) holder = holderOf(lockPath);
      if (now - heldSince >= settings.waitMs) {
        // Give up only on a holder that kept the lock all that time. A lock that changed hands
        // meanwhile means the journal is busy, not stuck: with 200 simultaneous `run`s on two cores
        // the last in line waits longer than any one holder holds it (stress test C1).
        const seen = holderOf(lockPath);
        if (seen !== null && seen === holder) throw new JournalLockedError(lockPath, now - heldSince);
        holder = seen;
        heldSince = now;
      }
      // Jitter, so that waiters started together do not retry together.
      const pause = pauseMs * (0.5 + Math.random());
      if (waited < BLOCKING_WAIT_MS) {
        Atomics.wait(pauseCell, 0, 0, pause);
        pauseMs = Math.min(pauseMs * 1.5, MAX_PAUSE_MS);
      } else {
        await sleep(pause);
        pauseMs = Math.min(pauseMs * 1.5, MAX_YIELDING_PAUSE_MS);
      }
    }
  } catch (error) {
    endTurn();
    throw error;
  }
  return {
    assertHeld() {
      if (compromised) throw new LockCompromisedError(`journal lock lost: ${(compromised as Error).message}`);
    },
    async release() {
      try {
        if (!compromised) release();
      } catch (error) {
        // Released already (compromised and taken over): nothing of ours to remove.
        if ((error as NodeJS.ErrnoException).code !== "ERELEASED") throw error;
      } finally {
        endTurn();
      }
    },
  };
}
