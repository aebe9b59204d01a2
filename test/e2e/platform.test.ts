// Windows is refused with one sentence, exit 2, before anything is written: bgtask does not run
// halfway there. Simulated by making process.platform say win32 before the CLI starts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { BIN, REPO } from "../helpers/project.ts";

it("on Windows every command says it is not supported, in one sentence, exit 2, and writes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-win-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const preload = join(dir, "win32.cjs");
  writeFileSync(preload, 'Object.defineProperty(process, "platform", { value: "win32" });\n');
  writeFileSync(join(dir, "package.json"), "{}");
  for (const args of [["list"], ["run", "hello"], ["work", "--once"]]) {
    const result = await execa(process.execPath, ["-r", preload, BIN, ...args], { cwd: dir, reject: false });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^bgtask: Windows is not supported \(.*\); run bgtask under WSL 2$/);
  }
  expect(existsSync(join(dir, ".bgtask"))).toBe(false);
  // npm refuses the install there too.
  expect(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).os).toEqual(["linux", "darwin"]);
});
