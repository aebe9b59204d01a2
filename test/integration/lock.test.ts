// The journal lock (proper-lockfile's lock, made as a file, driven by our own wait loop): a waiter
// gets a lock its holder released, takes over one left by a killed process once it is stale (the
// foreign locks here are folders, as older bgtask versions made them), gives up with
// JournalLockedError while one live holder keeps it fresh (but waits on while it changes hands),
// and excludes a process's own transactions.
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { JournalLockedError } from "../../src/errors.ts";
import { acquireLock } from "../../src/journal/lock.ts";

function tempHome(): { dir: string; lockPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-lock-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, lockPath: join(dir, "journal.lock") };
}

/** Another process's lock, as proper-lockfile leaves it: a folder, refreshed while its holder lives. */
function foreignLock(lockPath: string, { refreshed }: { refreshed: boolean }): { release(): void } {
  mkdirSync(lockPath);
  const refresh = refreshed ? setInterval(() => utimesSync(lockPath, new Date(), new Date()), 100) : undefined;
  return {
    release() {
      clearInterval(refresh);
      rmdirSync(lockPath);
    },
  };
}

describe("journal lock", () => {
  it("a waiter gets the lock once the holder releases it", async () => {
    const { dir, lockPath } = tempHome();
    const holder = foreignLock(lockPath, { refreshed: true });
    setTimeout(() => holder.release(), 300);
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 30_000 });
    expect(statSync(lockPath).isFile()).toBe(true);
    lock.assertHeld();
    await lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("takes over a lock left by a killed holder once it is stale", async () => {
    const { dir, lockPath } = tempHome();
    foreignLock(lockPath, { refreshed: false });
    const lock = await acquireLock(dir, lockPath, { staleMs: 2_000, waitMs: 30_000 });
    lock.assertHeld();
    await lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("gives up with JournalLockedError while a live holder keeps its lock fresh", async () => {
    const { dir, lockPath } = tempHome();
    const holder = foreignLock(lockPath, { refreshed: true });
    onTestFinished(() => holder.release());
    await expect(acquireLock(dir, lockPath, { staleMs: 2_000, waitMs: 3_000 })).rejects.toBeInstanceOf(JournalLockedError);
  });

  it("keeps waiting past waitMs while the lock changes hands, and gets it when it is free", async () => {
    const { dir, lockPath } = tempHome();
    mkdirSync(lockPath);
    // Each new holder replaces the folder in one step (rename onto an empty folder), so the
    // waiter never finds it free until the last one releases it.
    let handOvers = 0;
    const handOver = setInterval(() => {
      const next = `${lockPath}.next`;
      mkdirSync(next);
      renameSync(next, lockPath);
      if (++handOvers === 5) {
        clearInterval(handOver);
        setTimeout(() => rmdirSync(lockPath), 500);
      }
    }, 600);
    onTestFinished(() => clearInterval(handOver));
    const started = Date.now();
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 1_000 });
    expect(handOvers).toBe(5);
    expect(Date.now() - started).toBeGreaterThan(1_000);
    await lock.release();
  });

  it("transactions of one process exclude each other too: the second gets the lock when the first releases it", async () => {
    const { dir, lockPath } = tempHome();
    const settings = { staleMs: 10_000, waitMs: 30_000 };
    const order: string[] = [];
    const first = await acquireLock(dir, lockPath, settings);
    const second = acquireLock(dir, lockPath, settings).then((lock) => {
      order.push("second acquired");
      return lock;
    });
    // The first holder keeps the lock across awaits, as a transaction does.
    await new Promise((resolve) => setTimeout(resolve, 100));
    order.push("first releases");
    await first.release();
    await (await second).release();
    expect(order).toEqual(["first releases", "second acquired"]);
    expect(existsSync(lockPath)).toBe(false);
  });
});
