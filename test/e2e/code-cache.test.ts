// bin/bgtask.js has Node (≥ 22.1) keep a compile cache of the CLI bundle, made by the Node that
// runs it: the package ships none, as a cache one Node made is rejected by any other. A cache
// spoilt on disk must never stop the CLI: Node compiles as usual.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { BIN, useProject } from "../helpers/project.ts";

const hasCompileCache = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === "function";

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((entry) => statSync(join(dir, entry)).isFile());
}

describe("the CLI's compile cache", () => {
  it.runIf(!hasCompileCache)("is none on a Node without module.enableCompileCache, and the CLI runs", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const listed = await project.cli(["list"], { env: { BGTASK_DEBUG: "1" } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toBe("bgtask: compile cache none on this Node");
  });

  it.runIf(hasCompileCache)("is made by this Node where NODE_COMPILE_CACHE says, and a spoilt one is compiled past", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const cacheDir = mkdtempSync(join(tmpdir(), "bgtask-compile-cache-"));
    onTestFinished(() => rmSync(cacheDir, { recursive: true, force: true }));
    const cli = (args: string[]) =>
      execa(process.execPath, [BIN, ...args], { cwd: project.dir, env: { ...project.env, BGTASK_DEBUG: "1", NODE_COMPILE_CACHE: cacheDir }, reject: false });
    const first = await cli(["list"]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toBe(`bgtask: compile cache ${cacheDir} (ENABLED)`);
    const cached = filesUnder(cacheDir);
    expect(cached.length).toBeGreaterThan(0);

    for (const file of cached) writeFileSync(join(cacheDir, file), Buffer.alloc(4096, 7));
    const run = await cli(["run", "--no-worker", "noop"]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe("1");
    const status = await cli(["status", "1", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id: "1", executor: "noop", status: "queued" });
  });
});
