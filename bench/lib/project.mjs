// A throwaway bgtask project for one scenario: tasks/ with the bench's executors, a config, its
// own home, the built CLI run in it like a user would, and workers started from the built entry.
// Every process it starts carries BGTASK_ROOT=<dir>, so the project can find and end them all.
import {
  closeSync,
  cpSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { processesWith, run, signalAll, start, waitGone } from "./proc.mjs";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = join(REPO, "bin/bgtask.js");
export const WORKER = join(REPO, "dist/worker/main.js");
/** The V8 flags `bgtask run` starts a worker with (src/worker/spawn.ts). */
const { WORKER_NODE_FLAGS } = await import(join(REPO, "dist/worker/spawn.js"));
/** A --limit above any count here: a list that counts must see every active task. */
export const ALL = "9999999";

const NOOP_JS = `import { defineTask } from "bgtask";
export default defineTask({ async run() { return { message: "nothing done" }; } });
`;
const NOOP_TS = `import { defineTask } from "bgtask";
export default defineTask<{ i?: number }>({ async run() { return { message: "nothing done" }; } });
`;
// Reports as fast as an executor can: every call awaited, each with a new percent and message.
const STORM_JS = `import { defineTask } from "bgtask";
export default defineTask({
  async run(task) {
    const reports = task.context.reports ?? 100000;
    const started = performance.now();
    for (let i = 1; i <= reports; i++) await task.progress((i / reports) * 100, "item " + i);
    return { message: reports + " reports", result: { loopMs: performance.now() - started } };
  },
});
`;

/** The environment of every process the bench starts: no BGTASK_* of the caller's, no colour. */
export function cleanEnv(marker, extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("BGTASK_")) env[key] = value;
  return { ...env, NO_COLOR: "1", CI: "true", BGTASK_BENCH_RUN: marker, ...extra };
}

/** `length` bytes of a file from its start (`fromEnd` false) or its end, as text. */
function readPart(path, length, fromEnd) {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, length);
    const buffer = Buffer.alloc(n);
    readSync(fd, buffer, 0, n, fromEnd ? size - n : 0);
    return buffer.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export class BenchProject {
  /** @param {string} dir a fresh folder; @param {string} marker the bench run's marker value */
  constructor(dir, marker, config = {}) {
    this.dir = dir;
    this.marker = marker;
    this.home = join(dir, ".bgtask");
    mkdirSync(join(dir, "tasks"), { recursive: true });
    mkdirSync(join(dir, "node_modules"), { recursive: true });
    symlinkSync(REPO, join(dir, "node_modules", "bgtask"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bgtask-bench", type: "module", private: true }));
    writeFileSync(join(dir, "tasks", "noop.js"), NOOP_JS);
    writeFileSync(join(dir, "tasks", "noop-ts.ts"), NOOP_TS);
    writeFileSync(join(dir, "tasks", "storm.js"), STORM_JS);
    this.setConfig(config);
  }

  /** Writes an executor into the project's tasks folder. */
  writeTask(file, source) {
    writeFileSync(join(this.dir, "tasks", file), source);
  }

  setConfig(config) {
    writeFileSync(join(this.dir, "bgtask.config.json"), JSON.stringify(config));
  }

  get rootEntry() {
    return `BGTASK_ROOT=${this.dir}`;
  }

  env(extra = {}) {
    return cleanEnv(this.marker, { BGTASK_ROOT: this.dir, BGTASK_IDLE: "200ms", ...extra });
  }

  /** `bgtask <args>` in the project. Options: env (extra variables), rss, check (default true). */
  cli(args, { env, rss = false, check = true, timeoutMs } = {}) {
    return run(process.execPath, [BIN, ...args], { cwd: this.dir, env: this.env(env), rss, check, timeoutMs });
  }

  /** A worker from the built entry, as `bgtask run` starts one (its own slot, since none was reserved); `flags` are node's, as a preload adds. */
  startWorker({ env, rss = false, timeoutMs = 3_600_000, flags = [] } = {}) {
    return start(process.execPath, [...WORKER_NODE_FLAGS, ...flags, WORKER], { cwd: this.dir, env: this.env(env), rss, stdio: "ignore", timeoutMs });
  }

  /** Writes `count` one-line JSON contexts to a file for `run --each`; returns its path. */
  contexts(count, name = `contexts-${count}.jsonl`) {
    const path = join(this.dir, name);
    if (!existsSync(path)) {
      let text = "";
      for (let i = 0; i < count; i++) text += `{"i":${i}}\n`;
      writeFileSync(path, text);
    }
    return path;
  }

  /**
   * The journal's revision, bumped by exactly one per journal write: journal.json's `rev`, or the
   * last `{"commit":rev}` of the write-ahead log journal.json names when the journal keeps one.
   */
  rev() {
    const path = join(this.home, "journal.json");
    if (!existsSync(path)) return 0;
    const head = readPart(path, 4096, false);
    const snapshot = /"rev":(\d+)/.exec(head);
    let rev = snapshot ? Number(snapshot[1]) : JSON.parse(readFileSync(path, "utf8")).rev;
    const log = /"log":"([^"]+)"/.exec(head)?.[1];
    if (log && existsSync(join(this.home, log))) {
      const logPath = join(this.home, log);
      // The last commit is near the end, unless a big transaction (a bulk enqueue) follows it.
      for (const span of [64 * 1024, Infinity]) {
        const commits = [...readPart(logPath, span, true).matchAll(/\{"commit":(\d+)[,}]/g)];
        if (commits.length) {
          rev = Math.max(rev, Number(commits.at(-1)[1]));
          break;
        }
      }
    }
    return rev;
  }

  /**
   * Lines in the history files: one per task that became final (a no-op task once). Counted from the
   * files, as `list --json` over hundreds of thousands of tasks would cost the bench more than the drain.
   */
  finishedCount() {
    let lines = 0;
    for (const name of readdirSync(this.home)) {
      if (!/^history[\w.-]*\.jsonl$/.test(name)) continue;
      const bytes = readFileSync(join(this.home, name));
      for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines += 1;
    }
    return lines;
  }

  /** Waits until the journal has not moved for `quietMs` (a worker finished what it was doing). */
  async settle(quietMs = 100, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let last = this.rev();
    let since = Date.now();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      const now = this.rev();
      if (now !== last) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) return;
    }
  }

  processes() {
    return processesWith(this.rootEntry);
  }

  /** Waits for every process of the project to exit (workers retire once idle); kills stragglers. */
  waitIdle(timeoutMs = 30_000) {
    return waitGone(this.rootEntry, timeoutMs);
  }

  /** Asks the project's workers to stop (they finish the current try and retire). */
  stopWorkers() {
    signalAll(
      this.processes().filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === process.execPath;
        } catch {
          return false;
        }
      }),
      "SIGTERM",
    );
  }

  /** Copies the journal files of the home (not the per-task logs) to `dest`. */
  snapshot(dest) {
    rmSync(dest, { recursive: true, force: true });
    cpSync(this.home, dest, { recursive: true, filter: (src) => src !== join(this.home, "logs") });
  }

  /** Replaces the home with a snapshot; nothing of the project may be running. */
  restore(source) {
    rmSync(this.home, { recursive: true, force: true });
    cpSync(source, this.home, { recursive: true });
  }

  kill() {
    signalAll(this.processes(), "SIGKILL");
  }
}
