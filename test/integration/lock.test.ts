// The journal lock names its holder and is judged by the holder's liveness: a waiter gets a lock
// its holder released, takes over one whose holder is gone at once (however young), never takes
// one whose holder runs (however old, even stopped), judges by age only a holder it cannot check
// (another host, an older bgtask's nameless lock), gives up with JournalLockedError while one live
// holder keeps it (but waits on while it changes hands), and excludes a process's own transactions.
// CI runs it a second time with /proc hidden, as on macOS (.ci/run): there a holder has no start
// time, boot id or pid namespace to be judged by, only its pid, and the two tests that need them
// (a reused pid, a reboot) do not apply.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { JournalLockedError } from "../../src/errors.ts";
import { acquireLock, LockCompromisedError, type LockHolder } from "../../src/journal/file/lock.ts";
import { bootId, processStartTime } from "../../src/host/process-identity.ts";

function tempHome(): { dir: string; lockPath: string } {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-lock-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, lockPath: join(dir, "journal.lock") };
}

/** Whether this machine shows /proc (Linux), or hides it as macOS has none (see above). */
const PROC = existsSync("/proc/self");

function holderOf(pid: number, overrides: Partial<LockHolder> = {}): LockHolder {
  return {
    pid,
    host: hostname(),
    startTime: processStartTime(pid),
    bootId: bootId(),
    pidNamespace: PROC ? readlinkSync("/proc/self/ns/pid") : null,
    ...overrides,
  };
}

function writeLock(lockPath: string, holder: LockHolder, ageMs = 0): void {
  writeFileSync(lockPath, `${JSON.stringify(holder)}\n`, { flag: "wx" });
  const when = new Date(Date.now() - ageMs);
  utimesSync(lockPath, when, when);
}

/** A live process to name as a holder; stopped with SIGSTOP when asked. */
function liveProcess({ stopped = false } = {}): ChildProcess {
  const child = spawn("sleep", ["600"], { stdio: "ignore" });
  onTestFinished(() => {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  });
  if (stopped) child.kill("SIGSTOP");
  return child;
}

/** A process that has exited: its pid is free (or reused by another start time). */
function goneProcess(): { pid: number; startTime: number | null } {
  if (!PROC) return { pid: Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout), startTime: null };
  const child = spawnSync("sh", ["-c", "echo $$; cat /proc/$$/stat"], { encoding: "utf8" });
  const [pidLine, stat] = child.stdout.split("\n");
  const fields = stat!.slice(stat!.lastIndexOf(")") + 2).split(" ");
  return { pid: Number(pidLine), startTime: Number(fields[19]) };
}

const HOUR = 3_600_000;

describe("journal lock", () => {
  it("names its holder: this process, its start time, boot and pid namespace", async () => {
    const { dir, lockPath } = tempHome();
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 30_000 });
    const holder = JSON.parse(readFileSync(lockPath, "utf8")) as LockHolder;
    expect(holder).toEqual(holderOf(process.pid));
    lock.assertHeld();
    await lock.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("a waiter gets the lock once the holder releases it", async () => {
    const { dir, lockPath } = tempHome();
    const child = liveProcess();
    writeLock(lockPath, holderOf(child.pid!));
    setTimeout(() => rmSync(lockPath), 300);
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 30_000 });
    lock.assertHeld();
    await lock.release();
  });

  it("takes over at once a lock whose holder is gone, however young the lock", async () => {
    const { dir, lockPath } = tempHome();
    const gone = goneProcess();
    writeLock(lockPath, holderOf(gone.pid, { startTime: gone.startTime }));
    // Stale time and wait far longer than the test: only liveness can free it.
    const lock = await acquireLock(dir, lockPath, { staleMs: HOUR, waitMs: HOUR });
    expect((JSON.parse(readFileSync(lockPath, "utf8")) as LockHolder).pid).toBe(process.pid);
    await lock.release();
  });

  it.runIf(PROC)("takes over a lock whose pid was reused by another process (start time differs)", async () => {
    const { dir, lockPath } = tempHome();
    const stranger = liveProcess();
    writeLock(lockPath, holderOf(stranger.pid!, { startTime: processStartTime(stranger.pid!)! - 1 }));
    const lock = await acquireLock(dir, lockPath, { staleMs: HOUR, waitMs: HOUR });
    await lock.release();
    expect(stranger.exitCode).toBe(null);
  });

  it.runIf(PROC)("takes over a lock left before a reboot (boot id differs)", async () => {
    const { dir, lockPath } = tempHome();
    writeLock(lockPath, holderOf(process.pid, { bootId: "00000000-0000-0000-0000-000000000000" }));
    const lock = await acquireLock(dir, lockPath, { staleMs: HOUR, waitMs: HOUR });
    await lock.release();
  });

  it("never takes a lock from a live holder, even one stopped for an hour: JournalLockedError names it", async () => {
    const { dir, lockPath } = tempHome();
    const child = liveProcess({ stopped: true });
    writeLock(lockPath, holderOf(child.pid!), HOUR);
    const before = readFileSync(lockPath, "utf8");
    const error = await acquireLock(dir, lockPath, { staleMs: 2_000, waitMs: 1_500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JournalLockedError);
    expect((error as Error).message).toContain(`process ${child.pid}`);
    expect(readFileSync(lockPath, "utf8")).toBe(before);
  });

  it("gives up on one live holder that keeps its lock refreshed: a refresh is not a change of hands", async () => {
    const { dir, lockPath } = tempHome();
    const child = liveProcess();
    writeLock(lockPath, holderOf(child.pid!));
    const acquired = statSync(lockPath).mtime;
    // As a holder's timer does: the change time moves, the modification time stays its acquisition's.
    const refresh = setInterval(() => utimesSync(lockPath, new Date(), acquired), 100);
    onTestFinished(() => clearInterval(refresh));
    await expect(acquireLock(dir, lockPath, { staleMs: 2_000, waitMs: 1_000 })).rejects.toBeInstanceOf(JournalLockedError);
  });

  it("judges a holder on another host by its lock's change time: kept while fresh, taken once stale", async () => {
    const { dir, lockPath } = tempHome();
    // Dated an hour back by its mtime, which a clock or a person can set: its change time is now.
    writeLock(lockPath, holderOf(process.pid, { host: "elsewhere.example" }), HOUR);
    await expect(acquireLock(dir, lockPath, { staleMs: 60_000, waitMs: 1_000 })).rejects.toBeInstanceOf(JournalLockedError);
    const lock = await acquireLock(dir, lockPath, { staleMs: 1_500, waitMs: 60_000 });
    expect(Date.now() - statSync(lockPath).ctimeMs).toBeLessThan(1_000);
    await lock.release();
  });

  it("takes over an older bgtask's stale lock folder, and waits on a fresh one", async () => {
    const { dir, lockPath } = tempHome();
    mkdirSync(lockPath);
    await expect(acquireLock(dir, lockPath, { staleMs: 60_000, waitMs: 1_000 })).rejects.toBeInstanceOf(JournalLockedError);
    const old = new Date(Date.now() - HOUR);
    utimesSync(lockPath, old, old);
    const lock = await acquireLock(dir, lockPath, { staleMs: 60_000, waitMs: 60_000 });
    expect(statSync(lockPath).isFile()).toBe(true);
    await lock.release();
  });

  it("a lock dated an hour in the future does not wedge it when its holder is gone", async () => {
    const { dir, lockPath } = tempHome();
    const gone = goneProcess();
    writeLock(lockPath, holderOf(gone.pid, { startTime: gone.startTime }), -HOUR);
    const lock = await acquireLock(dir, lockPath, { staleMs: 2_000, waitMs: 2_000 });
    await lock.release();
  });

  it("keeps waiting past waitMs while the lock changes hands, and gets it when it is free", async () => {
    const { dir, lockPath } = tempHome();
    const child = liveProcess();
    writeLock(lockPath, holderOf(child.pid!));
    // Each new holder replaces the lock in one step (rename), so the waiter never finds it free
    // until the last one releases it.
    let handOvers = 0;
    const handOver = setInterval(() => {
      const next = `${lockPath}.next`;
      writeFileSync(next, `${JSON.stringify(holderOf(child.pid!))}\n`);
      renameSync(next, lockPath);
      if (++handOvers === 5) {
        clearInterval(handOver);
        setTimeout(() => rmSync(lockPath), 500);
      }
    }, 600);
    onTestFinished(() => clearInterval(handOver));
    const started = Date.now();
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 1_000 });
    expect(handOvers).toBe(5);
    expect(Date.now() - started).toBeGreaterThan(1_000);
    await lock.release();
  });

  it("assertHeld throws once the lock file is no longer this holder's", async () => {
    const { dir, lockPath } = tempHome();
    const lock = await acquireLock(dir, lockPath, { staleMs: 10_000, waitMs: 30_000 });
    rmSync(lockPath);
    writeLock(lockPath, holderOf(process.pid, { host: "elsewhere.example" }));
    expect(() => lock.assertHeld()).toThrow(LockCompromisedError);
    // Release leaves the other holder's lock alone.
    await lock.release();
    expect(existsSync(lockPath)).toBe(true);
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

  it("leaves only its identity file beside the lock, removed when the process exits", async () => {
    const { dir } = tempHome();
    const script = `import("${join(process.cwd(), "dist/journal/file/lock.js")}").then(async ({ acquireLock }) => {
      const lock = await acquireLock(${JSON.stringify(dir)}, ${JSON.stringify(join(dir, "journal.lock"))}, { staleMs: 10000, waitMs: 30000 });
      await lock.release();
      console.log(require("node:fs").readdirSync(${JSON.stringify(dir)}).join(","));
    })`;
    const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toMatch(/^\.lock-\d+-\d+-0$/);
    expect(readdirSync(dir)).toEqual([]);
  });
});
