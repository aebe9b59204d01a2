#!/usr/bin/env node
// Node 20 cannot run .ts: the CLI ships compiled and bundled to dist/ (built before packing, by
// `prepack`; in a clone, by its first command: see buildClone). This folder is CommonJS (bin/package.json), so starting the CLI never sets up
// the ES module loader, which costs several milliseconds before the first line of ours runs.
//
// The bundle is compiled with the V8 code cache the build wrote beside it (Node 20 has no
// module.enableCompileCache): parsing half a megabyte of JavaScript is ≈13 ms of every command,
// reading its cache ≈5. The cache is used only if it was made from this very file (its size, and
// the build id scripts/bundle.mjs stamped on its first line), since V8 itself checks little more
// than the length. Not by mtime: an installed copy has its own. A cache V8 rejects (another Node
// version) just means a normal compile. BGTASK_DEBUG=1 says which it was.
const { existsSync, readFileSync, statSync } = require("node:fs");
const Module = require("node:module");
const { dirname, join } = require("node:path");
const { Script } = require("node:vm");

const file = join(__dirname, "../dist/cli/bgtask.cjs");
let source;
try {
  source = readFileSync(file, "utf8");
} catch (error) {
  source = buildClone(error);
}
let cachedData;
try {
  const cache = JSON.parse(readFileSync(`${file}.cache.json`, "utf8"));
  if (cache.size === statSync(file).size && source.startsWith(`// bgtask build ${cache.build}\n`)) cachedData = readFileSync(`${file}.cache`);
} catch {
  // no cache, or not this bundle's: compile as usual
}
const script = new Script(Module.wrap(source), { filename: file, cachedData });
if (process.env.BGTASK_DEBUG === "1") {
  const verdict = cachedData === undefined ? "not used (missing, or not this bundle's)" : script.cachedDataRejected ? "rejected by V8" : "used";
  process.stderr.write(`bgtask: code cache ${verdict}\n`);
}
// Code compiled by vm.Script has no import() on Node 20; the bundle loads executors (and jiti)
// through this one, compiled by Node as part of this file.
globalThis[Symbol.for("bgtask.import")] = (specifier) => import(specifier);
const bundle = new Module(file, module);
bundle.filename = file;
bundle.paths = Module._nodeModulePaths(dirname(file));
script.runInThisContext()(bundle.exports, Module.createRequire(file), bundle, file, dirname(file));

/**
 * A fresh clone has no dist/ (the build runs before packing, never on install: an install script
 * would be one more package for npm to warn about). Its first command builds what runs, with
 * esbuild, in a second or two; `npm run build` adds the types. An installed package has no
 * scripts/ and always its dist/: there a missing bundle is an error as it was.
 */
function buildClone(missing) {
  const root = join(__dirname, "..");
  if (missing.code !== "ENOENT" || !existsSync(join(root, "scripts/bundle.mjs"))) throw missing;
  process.stderr.write("bgtask: first run in this clone: building dist/ (npm run build for the whole build, types included)\n");
  require("node:child_process").execFileSync(process.execPath, [join(root, "scripts/bundle.mjs")], { cwd: root, stdio: "inherit" });
  return readFileSync(file, "utf8");
}
