// The bgtask home folder: created 0700 and checked before anything is written into it, because
// it holds contexts, logs and attachments that may carry secrets.
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { JournalError } from "../errors.ts";

export const DIR_MODE = 0o700;

function refuse(dir: string, reason: string): never {
  throw new JournalError("EHOMEUNSAFE", `the bgtask home ${dir} ${reason}; choose another with --home or BGTASK_HOME`);
}

/** Creates `dir` (and `subdirs`) owner-only, or checks an existing one is a real folder we own. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") refuse(dir, `cannot be created (${(error as Error).message})`);
  }
  const stat = lstatSync(dir);
  if (stat.isSymbolicLink()) refuse(dir, "is a symbolic link");
  if (!stat.isDirectory()) refuse(dir, "is not a folder");
  if (typeof process.getuid === "function" && stat.uid !== process.getuid()) refuse(dir, `belongs to another user (uid ${stat.uid})`);
  // Looser modes on a folder of our own (an old umask, a copy) are tightened rather than refused.
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, DIR_MODE);
}

/**
 * The home itself: a private folder that also holds a `.gitignore` of `*` (as pytest and ruff
 * mark their caches), so the home never shows in `git status` of the project around it.
 */
export function ensureHome(dir: string): void {
  ensurePrivateDir(dir);
  try {
    // "wx": a .gitignore of the user's own is left as it is.
    writeFileSync(join(dir, ".gitignore"), "# Written by bgtask: the journal, logs and attachments stay out of git.\n*\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/**
 * Where jiti keeps executors it transpiled: inside the home, because their code can be as private
 * as the contexts (its default is the system temp folder, world-readable). The home must have been
 * checked already. jiti has no option for the modes it writes with, and the process umask cannot
 * be narrowed for it alone (the worker runs executors' code, whose own files must keep the user's
 * umask): so `prepare` makes the folders owner-only before jiti writes into them (nothing it
 * writes is ever readable by others), and `tighten` gives its files the home's 0600 afterwards.
 */
export function transpileCache(home: string): { dir: string; prepare(): void; tighten(): void } {
  const dir = join(home, "cache", "jiti");
  return {
    dir,
    prepare: () => {
      ensurePrivateDir(join(home, "cache"));
      ensurePrivateDir(dir);
    },
    tighten: () => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const file = join(dir, entry.name);
        if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      }
    },
  };
}

/** A task's log file: written by its worker, read by `logs` and `status`. */
export function taskLogPath(home: string, taskId: string): string {
  return join(home, "logs", `${taskId}.log`);
}

/** The folder a task's attachments are kept in. */
export function taskAttachmentsDir(home: string, taskId: string): string {
  return join(home, "attachments", taskId);
}
