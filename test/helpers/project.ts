// A throwaway bgtask project in a temp dir: tasks/, a config, a private home, and a way to run
// the built CLI in it like a user would. Cleanup kills every process the project started.
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { execa, execaSync, type Options } from "execa";
import { beforeEach, describe } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { JournalFiles } from "../../src/journal/file/journal-files.ts";
import type { JournalDoc } from "../../src/journal/file/schema.ts";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = join(REPO, "bin/bgtask.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ProjectOptions {
  /** Executor sources by name: { "mail/send.ts": "…" }. */
  tasks?: Record<string, string>;
  config?: Record<string, unknown>;
  /** Extra environment for every command (timings like BGTASK_IDLE). */
  env?: Record<string, string>;
  /** Which journal the project uses; by default the one describeOnJournals is running, else the file journal. */
  journal?: TestJournal;
  /** Every command (and so every worker it starts) sees an empty /proc, as on macOS: see canHideProc. */
  hideProc?: boolean;
}

/** Runs the rest of the command line in a mount namespace whose /proc is an empty tmpfs. */
const HIDE_PROC = ["--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs /proc && exec "$0" "$@"'];

/** True when this machine lets a test hide /proc from the commands it runs (root, with util-linux's unshare). */
export function canHideProc(): boolean {
  try {
    return execaSync("unshare", [...HIDE_PROC, "test", "!", "-e", "/proc/self"], { reject: false }).exitCode === 0;
  } catch {
    return false;
  }
}

export type TestJournal = "file" | "postgres";

/** The journals the end-to-end suites run on: PostgreSQL too when BGTASK_TEST_PG names a database (.ci/run starts one). */
export function testJournals(): TestJournal[] {
  return process.env.BGTASK_TEST_PG ? ["file", "postgres"] : ["file"];
}

let currentJournal: TestJournal = "file";

/** A suite that holds on every journal: run once per journal, each project in it on that journal. */
export function describeOnJournals(name: string, body: (journal: TestJournal) => void): void {
  for (const journal of testJournals()) {
    describe(journal === "file" ? name : `${name} [postgres]`, () => {
      beforeEach(() => {
        currentJournal = journal;
        return () => {
          currentJournal = "file";
        };
      });
      body(journal);
    });
  }
}

/** A fresh schema of the test database per project, so projects never see each other's tasks. */
function postgresJournal(): string {
  const url = process.env.BGTASK_TEST_PG;
  if (!url) throw new Error("a PostgreSQL journal was asked for, but BGTASK_TEST_PG is not set");
  return `${url}${url.includes("?") ? "&" : "?"}schema=t_${randomBytes(6).toString("hex")}`;
}

export class Project {
  readonly dir: string;
  readonly home: string;
  readonly env: Record<string, string>;
  readonly journal: TestJournal;
  private readonly hideProc: boolean;

  constructor(options: ProjectOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), "bgtask-test-"));
    this.home = join(this.dir, ".bgtask");
    // Executors import "bgtask": resolve it to this repository, as an installed package would.
    mkdirSync(join(this.dir, "node_modules"), { recursive: true });
    symlinkSync(REPO, join(this.dir, "node_modules", "bgtask"), "dir");
    writeFileSync(join(this.dir, "package.json"), JSON.stringify({ name: "bgtask-test-project", type: "module", private: true }));
    mkdirSync(join(this.dir, "tasks"), { recursive: true });
    for (const [file, source] of Object.entries(options.tasks ?? {})) this.writeTask(file, source);
    if (options.config) writeFileSync(join(this.dir, "bgtask.config.json"), JSON.stringify(options.config));
    this.journal = options.journal ?? currentJournal;
    this.hideProc = options.hideProc ?? false;
    this.env = {
      NO_COLOR: "1",
      CI: "true",
      BGTASK_IDLE: "500ms",
      BGTASK_LOCK_STALE: "2s",
      ...(this.journal === "postgres" ? { BGTASK_JOURNAL: postgresJournal() } : {}),
      ...options.env,
    };
  }

  writeTask(file: string, source: string): void {
    const path = join(this.dir, "tasks", file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, source);
  }

  /** Where bgtask/client opened in this test process finds the project's journal (its env is the CLI's only). */
  get clientFlags(): { root: string; journal?: string } {
    return this.env.BGTASK_JOURNAL ? { root: this.dir, journal: this.env.BGTASK_JOURNAL } : { root: this.dir };
  }

  get journalPath(): string {
    return join(this.home, "journal.json");
  }

  /** Runs `bgtask <args>` in the project; never throws on a non-zero exit. */
  async cli(args: string[], options: Options & { env?: Record<string, string> } = {}): Promise<CliResult> {
    const [file, argv] = this.hideProc ? ["unshare", [...HIDE_PROC, process.execPath, BIN, ...args]] : [process.execPath, [BIN, ...args]];
    const result = await execa(file, argv, {
      cwd: this.dir,
      reject: false,
      stdin: "ignore",
      ...options,
      env: { ...this.env, ...options.env },
      extendEnv: true,
    });
    return { code: result.exitCode ?? -1, stdout: String(result.stdout ?? ""), stderr: String(result.stderr ?? "") };
  }

  /** `bgtask run …` that must succeed; returns the new task id. */
  async run(executor: string, args: string[] = []): Promise<string> {
    const result = await this.cli(["run", executor, ...args]);
    if (result.code !== 0) throw new Error(`bgtask run ${executor} failed (${result.code}): ${result.stderr}`);
    return result.stdout.trim().split("\n")[0]!;
  }

  async status(id: string): Promise<TaskRecord> {
    const result = await this.cli(["status", id, "--json"]);
    if (result.code !== 0) throw new Error(`bgtask status ${id} failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as TaskRecord;
  }

  async list(args: string[] = []): Promise<TaskRecord[]> {
    const result = await this.cli(["list", "--json", "--limit", "1000000", ...args]);
    if (result.code !== 0) throw new Error(`bgtask list failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as TaskRecord[];
  }

  /** Polls `status` until `predicate` holds; fails with the last record seen after `timeoutMs`. */
  async waitForTask(id: string, predicate: (task: TaskRecord) => boolean, timeoutMs = 30_000): Promise<TaskRecord> {
    let last: TaskRecord | undefined;
    await waitFor(
      async () => {
        last = await this.status(id);
        return predicate(last);
      },
      timeoutMs,
      () => `task ${id} never matched; last seen: ${JSON.stringify(last)}`,
    );
    return last!;
  }

  readJournal(): unknown {
    return JSON.parse(readFileSync(this.journalPath, "utf8"));
  }

  private journalFiles(): JournalFiles {
    return new JournalFiles(this.home, { staleMs: 2_000, waitMs: 20_000 });
  }

  /** The journal's active set and meta as every bgtask process sees it (snapshot + log replayed). */
  journalState(): Promise<JournalDoc> {
    return this.journalFiles().read();
  }

  /** Rewrites one active task through the journal's own commit path (for tests that fake a state). */
  async editTask(id: string, edit: (task: TaskRecord) => TaskRecord): Promise<void> {
    await this.journalFiles().transact((doc, tx) => {
      const index = doc.tasks.findIndex((t) => t.id === id);
      if (index === -1) throw new Error(`task ${id} is not active`);
      doc.tasks[index] = edit(doc.tasks[index]!);
      tx.touched.add(id);
    });
  }

  /**
   * Committed journal writes so far: the last commit in the log, or the snapshot's rev; on
   * PostgreSQL the commit tokens (one per writing transaction).
   */
  journalRev(): number {
    if (this.journal === "postgres") {
      const url = new URL(this.env.BGTASK_JOURNAL!);
      const schema = url.searchParams.get("schema")!;
      url.search = "";
      const count = execaSync("psql", [url.toString(), "-tAc", `select count(*) from "${schema}".commits`], { reject: false });
      return count.exitCode === 0 ? Number(count.stdout.trim()) : 0;
    }
    if (!existsSync(this.journalPath)) return 0;
    const doc = this.readJournal() as { rev: number; log: string };
    const logPath = join(this.home, doc.log);
    const commits = existsSync(logPath) ? [...readFileSync(logPath, "utf8").matchAll(/^\{"commit":(\d+)[,}]/gm)] : [];
    return commits.length > 0 ? Number(commits[commits.length - 1]![1]) : doc.rev;
  }

  /** The log journal.json names: where every change since its last compaction is. */
  get logPath(): string {
    const head = readFileSync(this.journalPath).subarray(0, 256).toString("latin1");
    return join(this.home, /"log":"(journal\.\d+\.log)"/.exec(head)![1]!);
  }

  /** The bytes of journal.json and of the log it names: equal bytes mean an unchanged journal. */
  journalBytes(): Buffer | null {
    if (!existsSync(this.journalPath)) return null;
    const snapshot = readFileSync(this.journalPath);
    const log = /"log":"(journal\.\d+\.log)"/.exec(snapshot.subarray(0, 256).toString("latin1"))?.[1];
    const logPath = log ? join(this.home, log) : null;
    return logPath && existsSync(logPath) ? Buffer.concat([snapshot, readFileSync(logPath)]) : snapshot;
  }

  /** Pids of live processes started for this project (they carry BGTASK_ROOT=<dir> or run in it). */
  processes(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const environ = readFileSync(`/proc/${entry}/environ`, "utf8");
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
        if (environ.split("\0").includes(`BGTASK_ROOT=${this.dir}`)) pids.push(Number(entry));
      } catch {
        // gone, or not ours to read
      }
    }
    return pids;
  }

  /** Live worker pids of this project. */
  workers(): number[] {
    return this.processes().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker/main.js");
      } catch {
        return false;
      }
    });
  }

  cleanup(): void {
    for (const pid of this.processes()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The process exists and is not a zombie (a killed child not yet reaped still answers kill 0). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true, or throws after `timeoutMs` with `describe()`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  describe: () => string = () => "condition",
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Convenience for tests: a project removed (with its processes) when the test ends. */
export function useProject(onFinished: (fn: () => void) => void, options?: ProjectOptions): Project {
  const project = new Project(options);
  onFinished(() => project.cleanup());
  return project;
}
