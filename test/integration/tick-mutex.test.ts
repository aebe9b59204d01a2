// The tick mutex on a full disk: its write fails, and it leaves neither a temp file nor a changed
// tick.json, raising a journal error that names tick.json. (The e2e full-disk test cannot reach
// this write: a new process there already fails to write its lock identity.)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { JournalError } from "../../src/errors.ts";
import { currentProcess } from "../../src/host/process-identity.ts";
import { takeTick } from "../../src/journal/file/tick-mutex.ts";

const canMount = process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v mount"], { stdio: "ignore" }).status === 0;

describe("tick mutex", () => {
  it.skipIf(!canMount)("a full disk: the write fails with a journal error naming tick.json, and nothing is left behind", () => {
    const home = mkdtempSync(join(tmpdir(), "bgtask-tick-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", home]);
    onTestFinished(() => {
      spawnSync("umount", [home]);
      rmSync(home, { recursive: true, force: true });
    });
    // Fill it: whatever is left after the largest file that fits.
    try {
      writeFileSync(join(home, "filler"), Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC, as wanted: the filler holds what it could
    }
    const holder = { process: currentProcess(), since: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString() };
    let thrown: unknown;
    try {
      takeTick(home, holder, null);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(JournalError);
    expect((thrown as Error).message).toContain(join(home, "tick.json"));
    expect((thrown as Error).message).toMatch(/no space left on the device/);
    expect(readdirSync(home).sort()).toEqual(["filler"]);
  });
});
