#!/usr/bin/env node
// Node 20 cannot run .ts: the CLI ships compiled to dist/ (built by `npm install` through `prepare`).
import "../dist/cli/main.js";
