// Disk faults (issue 10): a bgtask home on its own tmpfs, filled until writes fail and then freed,
// or remounted read-only. Every writing command exits 3 with one sentence naming the device or
// file and leaves the committed journal as it was; reads still work; a worker whose write fails
// for want of space keeps its try and finishes it once space is freed.
// Needs root and mount(8): skipped, saying why, without them (CI runs as root).
import { execFileSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  statfsSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { journalProblems, readJournalState } from "../helpers/journal.ts";
import { Project, waitFor, type CliResult } from "../helpers/project.ts";

function whyNoMount(): string | null {
  if (process.platform !== "linux") return "tmpfs mounts need Linux";
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  const dir = mkdtempSync(join(tmpdir(), "bgtask-mount-probe-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir], { stdio: "pipe" });
    return null;
  } catch (error) {
    return `mount -t tmpfs failed here: ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const skipReason = whyNoMount();

// An executor the test steers through files in context.dir (outside the home, so never on the full disk).
const DISK_TASK = `
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineTask } from "bgtask";
const until = async (path, signal) => {
  while (!existsSync(path)) {
    if (signal.aborted) throw new Error("stopped");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
export default defineTask({ async run(task) {
  const context = task.context;
  console.log("started");
  writeFileSync(join(context.dir, "started-" + task.id), "");
  await until(join(context.dir, "go"), task.signal);
  for (let i = 0; i < (context.lines ?? 0); i++) console.log("line " + i + " " + "x".repeat(1000));
  writeFileSync(join(context.dir, "printed-" + task.id), "");
  await until(join(context.dir, "go-on"), task.signal);
  console.log("after");
  return { message: "done" };
} });
`;

/** A context whose record is larger than a page: writing it needs a fresh block even where a file's last page has room. */
const BIG = JSON.stringify({ pad: "p".repeat(6000) });

interface DiskHome {
  project: Project;
  /** Takes every free block of the tmpfs but `leaveBytes`. */
  fill(leaveBytes?: number): void;
  free(): void;
  remount(mode: "ro" | "rw"): void;
}

function mount(args: string[]): void {
  execFileSync("mount", args, { stdio: "pipe" });
}

/** A project whose home is a tmpfs of `sizeKb`; `logsElsewhere` bind-mounts logs/ from the ordinary disk. Everything is unmounted when the test ends. */
function diskHome(options: { sizeKb?: number; logsElsewhere?: boolean; config?: Record<string, unknown> } = {}): DiskHome {
  const project = new Project({ tasks: { "disk.js": DISK_TASK, "noop.js": fixture("noop.js") }, config: options.config });
  const mounts: string[] = [];
  onTestFinished(async () => {
    for (const pid of project.processes()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    // Processes with files open on the tmpfs keep it busy.
    await waitFor(
      () => project.processes().length === 0,
      10_000,
      () => "the project's processes to end",
    ).catch(() => undefined);
    for (const target of mounts.reverse()) {
      try {
        execFileSync("umount", [target], { stdio: "pipe" });
      } catch {
        execFileSync("umount", ["-l", target], { stdio: "pipe" });
      }
    }
    project.cleanup();
  });
  mkdirSync(project.home, { mode: 0o700 });
  mount(["-t", "tmpfs", "-o", `size=${options.sizeKb ?? 1024}k,mode=0700`, "tmpfs", project.home]);
  mounts.push(project.home);
  if (options.logsElsewhere) {
    const logs = join(project.dir, "logs-on-disk");
    mkdirSync(logs, { mode: 0o700 });
    mkdirSync(join(project.home, "logs"), { mode: 0o700 });
    mount(["--bind", logs, join(project.home, "logs")]);
    mounts.push(join(project.home, "logs"));
  }
  const fillers = [join(project.home, "filler"), join(project.home, "filler-rest")];
  return {
    project,
    fill(leaveBytes = 0) {
      const { bavail, bsize } = statfsSync(project.home);
      const take = bavail * bsize - leaveBytes;
      if (take > 0) execFileSync("fallocate", ["-l", String(take), fillers[0]!], { stdio: "pipe" });
      if (leaveBytes > 0) return;
      // Whatever fallocate left (tmpfs rounds), a page at a time until the device says no.
      const fd = openSync(fillers[1]!, "a");
      try {
        for (const page = Buffer.alloc(4096); ; ) writeSync(fd, page);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        closeSync(fd);
      }
      expect(statfsSync(project.home).bavail).toBe(0);
    },
    free() {
      for (const filler of fillers) rmSync(filler, { force: true });
    },
    remount(mode) {
      mount(["-o", `remount,${mode}`, project.home]);
    },
  };
}

/** Temp files, a lock or another leftover of a write that failed: nothing but the journal's own files and the fillers. */
function leftovers(project: Project): string[] {
  return readdirSync(project.home).filter((name) => /\.tmp$|^journal\.lock$/.test(name));
}

/** The committed journal as every reader sees it: snapshot + committed log, and the committed history. */
function committed(project: Project): string {
  const state = readJournalState(project);
  return JSON.stringify({ doc: state.doc, history: state.history });
}

function expectOneSentence(result: CliResult, pattern: RegExp, code: string, what: string): void {
  expect(result.code, `${what}: ${result.stderr}`).toBe(3);
  // One line (execa strips the final newline).
  expect(result.stderr).toMatch(/^bgtask: [^\n]+$/);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toContain(code);
  expect(result.stderr).not.toMatch(/internal error|\n\s+at /);
}

async function runId(project: Project, args: string[]): Promise<string> {
  const result = await project.cli(["run", ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n")[0]!;
}

describe.skipIf(skipReason !== null)(`disk faults${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  it("a full disk: every writing command exits 3 naming the device, leaves no temp file and the committed journal as it was; reads work; freed, all work again", async () => {
    // No workers: the tasks stay as the test puts them (`retry` would otherwise start one).
    const { project, fill, free } = diskHome({ config: { worker: false } });
    const queued = await runId(project, ["--no-worker", "noop", "--ctx", BIG]);
    const final = await runId(project, ["--no-worker", "noop", "--ctx", BIG]);
    expect((await project.cli(["cancel", final])).code).toBe(0);
    // Many small removals: their tombstones together need fresh blocks.
    const each = join(project.dir, "each.jsonl");
    writeFileSync(each, "{}\n".repeat(200));
    const bulk = (await project.cli(["run", "--no-worker", "noop", "--each", each])).stdout.trim().split("\n");
    expect(bulk).toHaveLength(200);
    const acknowledged = [queued, final, ...bulk];
    const before = committed(project);

    // A changed executor makes `run` rewrite its settings cache too, which must leave no temp file either.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(project.dir, "tasks", "noop.js"), later, later);
    fill();
    const noSpace = /no space left on the device holding \/\S+; free some space and try again/;
    const writes: string[][] = [
      ["run", "--no-worker", "noop", "--ctx", BIG],
      ["run", "noop", "--ctx", BIG],
      ["tick"],
      ["cancel", queued],
      ["retry", final],
      ["remove", ...bulk],
    ];
    for (const args of writes) {
      const result = await project.cli(args);

      expectOneSentence(result, noSpace, "ENOSPC", args.slice(0, 3).join(" "));
      expect(leftovers(project), args.join(" ")).toEqual([]);
      expect(committed(project), args.join(" ")).toBe(before);
    }
    // A new process cannot even write the identity its journal lock is made from: the home is named.
    const tick = await project.cli(["tick"]);
    expect(tick.stderr).toContain(project.home);
    const json = await project.cli(["run", "--no-worker", "noop", "--ctx", BIG, "--json"]);
    expect(json.code).toBe(3);
    const parsed = JSON.parse(json.stdout) as { error: { code: string; message: string } };
    expect(parsed.error.code).toBe("EJOURNALIO");
    expect(parsed.error.message).toMatch(noSpace);
    // Pure reads need no space.
    expect((await project.list()).map((t) => t.id).sort()).toEqual([...acknowledged].sort());
    expect((await project.status(queued)).status).toBe("queued");

    free();
    const state = readJournalState(project);
    expect(journalProblems(state, acknowledged)).toEqual([]);
    const next = await runId(project, ["--no-worker", "noop", "--ctx", BIG]);
    expect(acknowledged).not.toContain(next);
    expect(Number(next)).toBeGreaterThan(Math.max(...acknowledged.map(Number)));
    expect((await project.cli(["cancel", queued])).code).toBe(0);
    expect((await project.cli(["retry", final])).code).toBe(0);
    expect((await project.cli(["remove", ...bulk])).code).toBe(0);
    expect((await project.cli(["tick", "--max-time", "20s"])).code).toBe(0);
    expect(leftovers(project)).toEqual([]);
    // `final` was retried and ran again: two history lines, the newest wins.
    const after = readJournalState(project);
    expect([queued, final, next].filter((id) => !after.byId.has(id))).toEqual([]);
    expect(after.byId.get(final)?.status).toBe("succeeded");
  });

  it("a compaction on a nearly full disk never puts a cut journal.json in place of the whole one", async () => {
    const { project, fill } = diskHome({ config: { worker: false } });
    const each = join(project.dir, "each.jsonl");
    writeFileSync(each, `${BIG}\n`.repeat(30));
    const ids = (await project.cli(["run", "--no-worker", "noop", "--each", each])).stdout.trim().split("\n");
    expect(ids).toHaveLength(30);
    // Grow the log (each edit logs the whole 6 KB record) to just short of the 256 KiB that triggers a compaction.
    let edits = 0;
    while (statSync(project.logPath).size < 250 * 1024) await project.editTask(ids[0]!, (t) => ({ ...t, message: `edit ${++edits}` }));
    // Room for one more log append, not for the ≈190 KB snapshot a compaction then writes in one piece.
    fill(48 * 1024);
    const appended = await project
      .editTask(ids[0]!, (t) => ({ ...t, message: "the last edit" }))
      .then(
        () => "committed",
        (error: Error) => error.message,
      );
    expect(appended).toMatch(/committed|no space left/);
    const list = await project.cli(["list", "--json", "--limit", "100"]);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((t) => t.id).sort()).toEqual([...ids].sort());
    expect(leftovers(project)).toEqual([]);
  });

  it("a worker whose journal write fails for want of space keeps its try, says so in its log, and finishes once space is freed", async () => {
    const { project, fill, free } = diskHome({ logsElsewhere: true });
    const dir = mkdtempSync(join(project.dir, "steer-"));
    const id = await runId(project, ["disk", "--ctx", JSON.stringify({ dir, pad: "p".repeat(6000) })]);
    const second = await runId(project, ["--no-worker", "noop"]);
    await waitFor(
      () => existsSync(join(dir, `started-${id}`)),
      30_000,
      () => `task ${id} to start`,
    );
    const [worker] = project.workers();
    expect(worker).toBeDefined();

    fill();
    writeFileSync(join(dir, "go"), "");
    writeFileSync(join(dir, "go-on"), "");
    // Its result (a history line larger than a page) cannot be written: the worker waits, and says so.
    const workerLog = join(project.home, "logs", "worker.log");
    const said = () => (existsSync(workerLog) ? readFileSync(workerLog, "utf8") : "");
    await waitFor(
      () => /no space left on the device holding .*keeps its try/.test(said()),
      30_000,
      () => `the worker log to say it waits for space: ${said()}`,
    );
    expect(project.workers()).toContain(worker);
    const meanwhile = await project.status(id);
    expect(meanwhile.status).toBe("running");

    free();
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.tries).toBe(1);
    expect(done.history.map((h) => h.status)).toEqual(["succeeded"]);
    const next = await project.waitForTask(second, (t) => t.completed);
    expect(next.status).toBe("succeeded");
    expect(said()).toMatch(/the journal could be written again after \d+s/);
    const all = await project.list();
    expect(all.filter((t) => /died/.test(t.message ?? "") || /died/.test(t.error?.message ?? ""))).toEqual([]);
    // An idle worker still looks for work, holding journal.lock for a moment each time: the folder
    // is judged once it has retired (npm run stress caught one mid-look).
    await waitFor(
      () => project.workers().length === 0,
      60_000,
      () => `the workers ${project.workers().join(", ")} to retire`,
    );
    expect(leftovers(project)).toEqual([]);
  });

  it("a task whose log cannot be written for want of space runs on, and its log says how many lines were lost", async () => {
    const { project, fill, free } = diskHome();
    const dir = mkdtempSync(join(project.dir, "steer-"));
    const id = await runId(project, ["disk", "--ctx", JSON.stringify({ dir, lines: 40 })]);
    await waitFor(
      () => existsSync(join(dir, `started-${id}`)),
      30_000,
      () => `task ${id} to start`,
    );
    const [worker] = project.workers();

    fill();
    writeFileSync(join(dir, "go"), "");
    // 40 lines of 1 KB cannot all fit in what is left of the log's last page.
    await waitFor(
      () => existsSync(join(dir, `printed-${id}`)),
      30_000,
      () => `task ${id} to print its lines`,
    );
    expect(project.workers()).toContain(worker);
    free();
    writeFileSync(join(dir, "go-on"), "");

    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    expect(done.tries).toBe(1);
    const log = await project.cli(["logs", id]);
    expect(log.code).toBe(0);
    expect(log.stdout).toContain("started");
    expect(log.stdout).toMatch(/\d+ log line\(s\) before this one could not be written \(.*no space left on device/);
    expect(log.stdout).toContain("after");
  });

  it("a read-only home: every writing command exits 3 saying the file system is read-only; reads work; remounted, all work again", async () => {
    const { project, remount } = diskHome();
    const finished = await runId(project, ["noop"]);
    await project.waitForTask(finished, (t) => t.completed);
    // Retired, so that nothing holds files open on the home when it is remounted.
    await waitFor(
      () => project.workers().length === 0,
      30_000,
      () => "the worker to retire",
    );
    const queued = await runId(project, ["--no-worker", "noop"]);
    const cancelled = await runId(project, ["--no-worker", "noop"]);
    expect((await project.cli(["cancel", cancelled])).code).toBe(0);
    const before = committed(project);

    remount("ro");
    const readOnly = /the file system holding \/\S+ is read-only; remount it read-write, or choose another home/;
    for (const args of [
      ["run", "noop"],
      ["run", "--no-worker", "noop"],
      ["tick"],
      ["cancel", queued],
      ["retry", cancelled],
      ["remove", cancelled],
      ["remove", "--finished"],
    ]) {
      expectOneSentence(await project.cli(args), readOnly, "EROFS", args.join(" "));
    }
    const json = await project.cli(["cancel", queued, "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EJOURNALIO", message: expect.stringMatching(readOnly) } });
    expect((await project.list()).map((t) => t.id).sort()).toEqual([finished, queued, cancelled].sort());
    expect((await project.status(finished)).status).toBe("succeeded");
    expect((await project.cli(["logs", finished])).code).toBe(0);
    expect(committed(project)).toBe(before);

    remount("rw");
    expect((await project.cli(["cancel", queued])).code).toBe(0);
    const next = await runId(project, ["--no-worker", "noop"]);
    expect(Number(next)).toBeGreaterThan(Number(cancelled));
    expect(leftovers(project)).toEqual([]);
  });
});
