#!/usr/bin/env node
// Second step of `npm run build`, after tsc: bundles the process entries, so a command reads one
// file instead of ≈70 modules. It reads src/ alone, never tsc's output, so that it is the whole
// runnable build: bin/bgtask.js runs it in a fresh clone whose dist/ is missing (tsc takes half a
// minute, this a second or two). tsc's part of dist/ is the types, shipped beside the bundles.
//
// - dist/cli/bgtask.cjs, the CLI (bin/bgtask.js requires it). CommonJS on purpose: an ES module
//   bundle links every Node built-in any command imports (child_process, worker_threads, crypto…)
//   before the first line runs; here each is required when the module that uses it first runs.
// - dist/index.js, what executors import as `bgtask` (defineTask and the retry errors), written
//   over tsc's entry.
// - dist/worker/main.js, dist/worker/supervisor-thread.js, dist/worker/hook-command.js and
//   dist/worker/isolated.js, written over tsc's entries, as ES modules: they are started or imported
//   by path (`node dist/worker/main.js`, `new Worker(url)`, `import(url)` of the hook runner, which
//   holds execa, a sandboxed try's `fork` or `new Worker`).
// - dist/client/index.cjs, `bgtask/client`, and dist/client/index.js over tsc's entry, the ES
//   module that hands out its exports; its types are tsc's index.d.ts, and index.d.cts for
//   `require` (a .d.ts in a "type": "module" package would say ES module to TypeScript).
// - dist/dashboard/server.cjs and its assets/, what `bgtask ui` serves, loaded by that command alone.
// The bundles sit one folder below dist/, like the files they stand for, so URLs resolved against
// import.meta.url (package.json, the worker entry, the supervisor thread) reach the same files.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import Module from "node:module";
import { build } from "esbuild";

// commander loads more of Node than bgtask uses from it; in the bundles it gets less.
const leaner = {
  name: "leaner-dependencies",
  setup(build) {
    // commander requires child_process as it loads, for executable subcommands, which bgtask has
    // none of: it gets child_process on first use instead (≈2 ms of every command).
    build.onResolve({ filter: /^(node:)?child_process$/ }, ({ importer }) =>
      importer.includes("/node_modules/commander/") ? { path: "child_process", namespace: "on-first-use" } : undefined,
    );
    build.onLoad({ filter: /^child_process$/, namespace: "on-first-use" }, () => ({
      contents: 'let loaded; module.exports = new Proxy({}, { get: (_, key) => (loaded ??= require("node:child_process"))[key] });',
    }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  // jiti (1.8 MB) is imported only to load a .ts executor: it stays a package, loaded when needed.
  external: ["jiti", "pg"],
  plugins: [leaner],
  // A quarter less to ship and to parse on each command. Identifiers stay, and keepNames keeps
  // each function's and class's name (an error's name is its class's): a stack trace reads by
  // name. Its file:line:column is the bundle's; the source maps beside the bundles (not shipped)
  // map it back in a clone: NODE_OPTIONS=--enable-source-maps.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  logLevel: "warning",
};

await build({
  ...common,
  entryPoints: { "cli/bgtask": "src/cli/main.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  define: { "import.meta.url": "__bgtaskModuleUrl" },
  banner: { js: 'const __bgtaskModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});

// The CommonJS packages bundled into an ES module call require() for Node's modules, which an ES module has no binding for.
const esmRequire = 'import { createRequire as __bgtaskCreateRequire } from "node:module"; const require = __bgtaskCreateRequire(import.meta.url);';

await build({
  ...common,
  entryPoints: {
    index: "src/index.ts",
    "worker/main": "src/worker/main.ts",
    "worker/supervisor-thread": "src/worker/supervisor-thread.ts",
    "worker/hook-command": "src/worker/hook-command.ts",
    "worker/isolated": "src/worker/isolated.ts",
  },
  outdir: "dist",
  format: "esm",
  allowOverwrite: true,
  banner: { js: esmRequire },
});

await build({
  ...common,
  entryPoints: { "client/index": "src/client/index.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  define: { "import.meta.url": "__bgtaskModuleUrl" },
  banner: { js: 'const __bgtaskModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
// One copy of the client for `import` and `require` alike: the ES module entry hands out the
// CommonJS build's own exports, so an error class is the same from either (instanceof holds
// across a program that has both), and a process loads the client once. Names listed, not
// `export *`, which would rest on Node's guess at what a CommonJS module exports.
const clientNames = Object.keys(Module.createRequire(import.meta.url)("../dist/client/index.cjs"));
writeFileSync("dist/client/index.js", `import client from "./index.cjs";\nexport const { ${clientNames.join(", ")} } = client;\n`);
// tsc's types, when tsc ran: not in the first-run build of a clone, which only runs things.
if (existsSync("dist/client/index.d.ts")) writeFileSync("dist/client/index.d.cts", typesForRequire(readFileSync("dist/client/index.d.ts", "utf8")));

/**
 * The client's types for `require`: tsc's, whose imports reach the package's other declarations,
 * ES modules ("type": "module"), which TypeScript lets a CommonJS file (node16, nodenext) import
 * only as types and with `resolution-mode: import`. So the type imports get that attribute, and
 * the error classes, exported as values, become constants and types of that import's classes.
 */
function typesForRequire(types) {
  const esm = ' with { "resolution-mode": "import" }';
  const out = types
    .replace(/^(import type \{[^}]*\} from "[^"]+");$/gm, `$1${esm};`)
    .replace(/^(export type \{[^}]*\} from "[^"]+");$/gm, `$1${esm};`)
    .replace(/^export \{([^}]*)\} from "([^"]+)";$/gm, (_, names, from) => {
      const classes = names
        .split(",")
        .map((name) => name.trim())
        .filter(Boolean);
      return [
        `import type * as __values from "${from}"${esm};`,
        ...classes.map((name) => `export declare const ${name}: typeof __values.${name};\nexport type ${name} = __values.${name};`),
      ].join("\n");
    });
  const left = out.split("\n").filter((line) => / from "/.test(line) && !line.includes(esm));
  if (left.length > 0) throw new Error(`bundle: an import the types for require do not handle yet: ${left.join("; ")}`);
  return out;
}

// The dashboard's server, apart from the CLI bundle: `bgtask ui` requires it by path, so no other
// command parses it. Its page is plain files, copied beside it as they are.
await build({
  ...common,
  entryPoints: { "dashboard/server": "src/dashboard/server.ts" },
  outdir: "dist",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  define: { "import.meta.url": "__bgtaskModuleUrl" },
  banner: { js: 'const __bgtaskModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
mkdirSync("dist/dashboard/assets", { recursive: true });
for (const name of readdirSync("src/dashboard/assets")) copyFileSync(`src/dashboard/assets/${name}`, `dist/dashboard/assets/${name}`);
