#!/usr/bin/env node
// Installs a tool folder's own dependencies (its package.json and package-lock.json, `npm ci`)
// the first time a command needs them, and again when its lockfile changes. Tools that only one
// command uses (graphile-worker for `npm run bench`, arethetypeswrong for `npm run check:types`)
// stay out of the clone's `npm install`, which the quick start waits for (issue 25).
//
//   node scripts/install-once.mjs <folder> [what]     (or import { installOnce })
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Runs `npm ci` in `folder` unless its node_modules is as new as its manifest and lockfile
 * (npm writes node_modules/.package-lock.json last). Says so on stderr, never on stdout: the
 * commands that call it print data there. Throws when npm fails.
 */
export function installOnce(folder, what = "its dependencies") {
  const dir = resolve(folder);
  const installed = join(dir, "node_modules", ".package-lock.json");
  const newest = Math.max(...["package.json", "package-lock.json"].map((name) => statSync(join(dir, name)).mtimeMs));
  if (existsSync(installed) && statSync(installed).mtimeMs >= newest) return false;
  const where = relative(process.cwd(), dir) || ".";
  process.stderr.write(`installing ${what} into ${join(where, "node_modules")} (first use only: npm ci)\n`);
  // Spelled out rather than left to an .npmrc: npm reads only the nearest package.json's folder.
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"], { cwd: dir, stdio: ["ignore", 2, 2] });
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [folder, what] = process.argv.slice(2);
  if (!folder) {
    process.stderr.write("usage: node scripts/install-once.mjs <folder> [what]\n");
    process.exit(2);
  }
  installOnce(folder, what);
}
