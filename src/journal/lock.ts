// The cross-process lock around every journal change: proper-lockfile's mkdir lock, held only for
// one read-modify-write. A lock left by a killed process goes stale and is taken over; a holder
// whose lock was compromised is told before it commits, instead of being crashed by a throw.
import lockfile from "proper-lockfile";
import { JournalLockedError } from "../errors.ts";

export interface LockSettings {
  /** A lock not refreshed for this long is presumed left by a dead process. */
  staleMs: number;
  /** Give up waiting after this long. */
  waitMs: number;
}

export interface HeldLock {
  /** Throws when the lock was taken away from us (stalled past `staleMs`): the write must not land. */
  assertHeld(): void;
  release(): Promise<void>;
}

export class LockCompromisedError extends Error {}

export async function acquireLock(target: string, lockPath: string, settings: LockSettings): Promise<HeldLock> {
  let compromised: Error | null = null;
  const started = Date.now();
  // Many short critical sections: retry quickly with jitter, long enough to outlast a stale lock.
  const retries = Math.ceil(settings.waitMs / 25);
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      lockfilePath: lockPath,
      realpath: false,
      stale: settings.staleMs,
      update: Math.max(1000, Math.floor(settings.staleMs / 4)),
      retries: { retries, minTimeout: 2, maxTimeout: 50, factor: 1.3, randomize: true },
      onCompromised: (error) => {
        compromised = error;
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") throw new JournalLockedError(lockPath, Date.now() - started);
    throw error;
  }
  return {
    assertHeld() {
      if (compromised) throw new LockCompromisedError(`journal lock lost: ${(compromised as Error).message}`);
    },
    async release() {
      if (compromised) return;
      try {
        await release();
      } catch (error) {
        // Released already (compromised and taken over): nothing of ours to remove.
        if ((error as NodeJS.ErrnoException).code !== "ERELEASED") throw error;
      }
    },
  };
}
