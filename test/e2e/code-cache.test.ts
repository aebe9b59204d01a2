// bin/bgtask.js compiles the CLI bundle with the V8 code cache the build wrote beside it. The
// cache must be one V8 accepts (else it buys nothing), and a cache that is not the bundle's —
// stale, garbage, missing — must never stop the CLI: it compiles as usual.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Script } from "node:vm";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { REPO, useProject } from "../helpers/project.ts";

const BUNDLE = join(REPO, "dist/cli/bgtask.cjs");

/** A copy of the built package (bin/, dist/) whose cache files a test may spoil; new mtimes, as an install gives it. */
function packageCopy(): { bin: string; bundle: string } {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-pkg-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const folder of ["bin", "dist"]) cpSync(join(REPO, folder), join(dir, folder), { recursive: true });
  cpSync(join(REPO, "package.json"), join(dir, "package.json"));
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  return { bin: join(dir, "bin/bgtask.js"), bundle: join(dir, "dist/cli/bgtask.cjs") };
}

describe("the CLI's code cache", () => {
  it("is made from the bundle beside it and accepted by V8", () => {
    const stamp = JSON.parse(readFileSync(`${BUNDLE}.cache.json`, "utf8")) as { size: number; build: string };
    expect(stamp).toEqual({ size: statSync(BUNDLE).size, build: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(readFileSync(BUNDLE, "utf8").startsWith(`// bgtask build ${stamp.build}\n`)).toBe(true);
    const script = new Script(Module.wrap(readFileSync(BUNDLE, "utf8")), { filename: BUNDLE, cachedData: readFileSync(`${BUNDLE}.cache`) });
    expect(script.cachedDataRejected).toBe(false);
  });

  const spoilers: Record<string, (bundle: string) => void> = {
    "garbage cache": (bundle) => writeFileSync(`${bundle}.cache`, Buffer.alloc(4096, 7)),
    "cache of another build (stamp differs)": (bundle) => {
      const stamp = JSON.parse(readFileSync(`${bundle}.cache.json`, "utf8")) as { size: number };
      writeFileSync(`${bundle}.cache.json`, JSON.stringify({ ...stamp, build: "0123456789abcdef" }));
    },
    "unreadable stamp": (bundle) => writeFileSync(`${bundle}.cache.json`, "{"),
    "no cache": (bundle) => unlinkSync(`${bundle}.cache`),
  };
  it("is used in a copy whose files have new mtimes (an installed package), and not once it belongs to another build", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const { bin, bundle } = packageCopy();
    expect(statSync(bundle).mtimeMs).not.toBe(statSync(BUNDLE).mtimeMs);
    const debug = () => execa(process.execPath, [bin, "list"], { cwd: project.dir, env: { ...project.env, BGTASK_DEBUG: "1" }, reject: false });
    const used = await debug();
    expect(used.exitCode, used.stderr).toBe(0);
    expect(used.stderr).toBe("bgtask: code cache used");
    spoilers["cache of another build (stamp differs)"]!(bundle);
    expect((await debug()).stderr).toBe("bgtask: code cache not used (missing, or not this bundle's)");
  });

  for (const [name, spoil] of Object.entries(spoilers)) {
    it(`${name}: the CLI still runs, loads an executor and stores the task`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
      const { bin, bundle } = packageCopy();
      spoil(bundle);
      const cli = (args: string[]) => execa(process.execPath, [bin, ...args], { cwd: project.dir, env: project.env, reject: false });
      const run = await cli(["run", "--no-worker", "noop"]);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe("1");
      const status = await cli(["status", "1", "--json"]);
      expect(status.exitCode, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ id: "1", executor: "noop", status: "queued" });
    });
  }
});
