#!/usr/bin/env node
// Node 20 cannot run .ts: the CLI ships compiled and bundled to dist/ (built before packing, by
// `prepack`; in a clone, by its first command: see buildClone). This folder is CommonJS
// (bin/package.json), so starting the CLI never sets up the ES module loader, which costs several
// milliseconds before the first line of ours runs.
//
// Parsing the half-megabyte bundle is ≈13 ms of every command. Node ≥ 22.1 keeps a compile cache
// of it, made and checked by the very Node that runs it (a cache shipped in the package was one
// Node's, rejected by every other): in Node's default place, NODE_COMPILE_CACHE to move it,
// NODE_DISABLE_COMPILE_CACHE=1 to turn it off. Node 20 has none and compiles each time.
// BGTASK_DEBUG=1 says which it was.
// Windows is refused with one sentence rather than run halfway: the journal's durable writes sync
// folders, detached workers and cancelling a task's process tree rest on POSIX. package.json's
// `os` says the same to npm.
if (process.platform === "win32") {
  process.stderr.write(
    "bgtask: Windows is not supported (the journal syncs folders, and workers and cancels rely on POSIX process groups); run bgtask under WSL 2\n",
  );
  process.exit(2);
}

const { existsSync } = require("node:fs");
const Module = require("node:module");
const { join } = require("node:path");

const cache = Module.enableCompileCache?.();
if (process.env.BGTASK_DEBUG === "1") {
  const verdict = cache === undefined ? "none on this Node" : cache.directory ? `${cache.directory} (${statusName(cache.status)})` : statusName(cache.status);
  process.stderr.write(`bgtask: compile cache ${verdict}\n`);
}
const file = join(__dirname, "../dist/cli/bgtask.cjs");
if (!existsSync(file)) buildClone();
require(file);

function statusName(status) {
  return Object.keys(Module.constants.compileCacheStatus).find((name) => Module.constants.compileCacheStatus[name] === status) ?? String(status);
}

/**
 * A fresh clone has no dist/ (the build runs before packing, never on install: an install script
 * would be one more package for npm to warn about). Its first command builds what runs, with
 * esbuild, in a second or two; `npm run build` adds the types. An installed package has no
 * scripts/ and always its dist/: there a missing bundle is require's error, as it was.
 */
function buildClone() {
  const root = join(__dirname, "..");
  if (!existsSync(join(root, "scripts/bundle.mjs"))) return;
  process.stderr.write("bgtask: first run in this clone: building dist/ (npm run build for the whole build, types included)\n");
  require("node:child_process").execFileSync(process.execPath, [join(root, "scripts/bundle.mjs")], { cwd: root, stdio: "inherit" });
}
