#!/usr/bin/env node
// Node 20 cannot run .ts: the CLI ships compiled and bundled to dist/ (built by `npm install`
// through `prepare`). This folder is CommonJS (bin/package.json), so starting the CLI never sets up
// the ES module loader, which costs several milliseconds before the first line of ours runs.
require("../dist/cli/bgtask.cjs");
