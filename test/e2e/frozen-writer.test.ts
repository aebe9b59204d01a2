// A writer frozen (SIGSTOP) at each named point of a journal write while another writer commits,
// then let go (SIGCONT): everything committed by either is still there, and nothing twice.
//
// On one host a frozen holder keeps the lock (it is alive), so the other writer waits: that is the
// first half. The second half freezes a holder the other cannot check — it runs in its own pid
// namespace (unshare), as a container sharing the home would — so the other judges it by the
// lock's age, takes the lock over once it is stale, and commits: the frozen one must then notice,
// before it touches any file, that it no longer holds the lock, and redo or drop its write.
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { journalProblems, readJournalState } from "../helpers/journal.ts";
import { BIN, useProject, waitFor, type Project } from "../helpers/project.ts";
import type { CrashPoint } from "../../src/journal/file/crash-points.ts";

const canUnshare = spawnSync("unshare", ["--pid", "--fork", "true"]).status === 0;

function stoppedPids(project: Project): number[] {
  return project.processes().filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("T");
    } catch {
      return false;
    }
  });
}

/** Starts `bgtask <args>` that stops itself at `point`; resolves once it is stopped there. */
async function frozenAt(project: Project, point: CrashPoint, args: string[], { ownNamespace }: { ownNamespace: boolean }) {
  // BGTASK_ROOT (the project, as it would be found anyway) marks it as this project's process.
  const env = { ...project.env, BGTASK_ROOT: project.dir, BGTASK_TEST_STOP_AT: point };
  const command = ownNamespace
    ? // sh stays pid 1 of the namespace, so node (pid 2) may stop itself.
      execa("unshare", ["--pid", "--fork", "sh", "-c", `"${process.execPath}" "${BIN}" "$@"; exit $?`, "sh", ...args], {
        cwd: project.dir,
        reject: false,
        stdin: "ignore",
        env,
      })
    : execa(process.execPath, [BIN, ...args], { cwd: project.dir, reject: false, stdin: "ignore", env });
  onTestFinished(() => {
    for (const pid of project.processes()) process.kill(pid, "SIGCONT");
  });
  let stopped: number[] = [];
  await waitFor(
    () => (stopped = stoppedPids(project)).length === 1,
    20_000,
    () => `bgtask ${args.join(" ")} never stopped at ${point}`,
  );
  return { pid: stopped[0]!, done: command };
}

/**
 * A point and a write that passes it: a cancel moves a task to the history; a big context makes the
 * log compact; a bulk enqueue past the active set's limit appends to the cold queue.
 */
const POINTS: Array<{ point: CrashPoint; write: "cancel" | "big" | "bulk" }> = [
  { point: "locked", write: "cancel" },
  { point: "read", write: "cancel" },
  { point: "history-appended", write: "cancel" },
  { point: "history-indexed", write: "cancel" },
  { point: "log-appended", write: "cancel" },
  { point: "log-appended", write: "big" },
  { point: "temp-written", write: "big" },
  { point: "renamed", write: "big" },
  { point: "snapshot-written", write: "big" },
  { point: "before-unlock", write: "cancel" },
  { point: "queue-appended", write: "bulk" },
  { point: "log-appended", write: "bulk" },
];

const BULK = 1_100;

async function setUp(project: Project, write: (typeof POINTS)[number]["write"]): Promise<{ args: string[]; acknowledged: string[] }> {
  const acknowledged = [await project.run("noop", ["--no-worker"]), await project.run("noop", ["--no-worker"])];
  if (write === "cancel") return { args: ["cancel", acknowledged[0]!], acknowledged };
  const file = join(project.dir, "input.json");
  if (write === "big") writeFileSync(file, JSON.stringify({ pad: "x".repeat(300 * 1024) }));
  else writeFileSync(file, Array.from({ length: BULK }, (_, i) => JSON.stringify({ i })).join("\n"));
  return { args: ["run", "--no-worker", "noop", write === "big" ? "--ctx-file" : "--each", file], acknowledged };
}

/** The ids a frozen write printed once it was let go: a run's, never a cancel's. */
function printed(write: (typeof POINTS)[number]["write"], stdout: unknown): string[] {
  if (write === "cancel") return [];
  const ids = String(stdout).trim().split("\n");
  expect(ids).toHaveLength(write === "bulk" ? BULK : 1);
  return ids;
}

function check(project: Project, acknowledged: string[]): void {
  const state = readJournalState(project);
  expect(journalProblems(state, acknowledged)).toEqual([]);
  const ids = [...state.counts.keys()].map(Number);
  expect(state.doc.nextId).toBeGreaterThan(Math.max(...ids));
}

describe("a writer frozen mid-commit", () => {
  for (const { point, write } of POINTS) {
    it(`on this host, frozen at ${point} (${write}): it keeps the lock, the other writer waits, both land`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, env: { BGTASK_LOCK_STALE: "2s" } });
      const { args, acknowledged } = await setUp(project, write);
      const frozen = await frozenAt(project, point, args, { ownNamespace: false });
      const other = project.cli(["run", "--no-worker", "noop"]);
      // The frozen holder's lock grows older than the stale time (its refresh is frozen too), and
      // still the other writer does not take it: the lock names a live process.
      const lockPath = join(project.home, "journal.lock");
      await waitFor(() => Date.now() - statSync(lockPath).ctimeMs > 3_000, 10_000);
      expect(readFileSync(lockPath, "utf8")).toContain(`"pid":${frozen.pid}`);
      expect(stoppedPids(project)).toEqual([frozen.pid]);
      process.kill(frozen.pid, "SIGCONT");
      const [a, b] = [await frozen.done, await other];
      expect(a.exitCode, String(a.stderr)).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      acknowledged.push(b.stdout.trim(), ...printed(write, a.stdout));
      check(project, acknowledged);
      if (write === "cancel") expect((await project.status(acknowledged[0]!)).status).toBe("cancelled");
    }, 60_000);
  }

  for (const { point, write } of POINTS) {
    it.skipIf(!canUnshare)(
      `in another pid namespace, frozen at ${point} (${write}): taken over once stale, and its late write lands once or not at all`,
      async () => {
        const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, env: { BGTASK_LOCK_STALE: "2s" } });
        const { args, acknowledged } = await setUp(project, write);
        const frozen = await frozenAt(project, point, args, { ownNamespace: true });
        // The other writer takes the stale lock over and commits while the first is still frozen.
        const other = await project.cli(["run", "--no-worker", "noop"]);
        expect(other.code, other.stderr).toBe(0);
        acknowledged.push(other.stdout.trim());
        expect(stoppedPids(project)).toEqual([frozen.pid]);
        process.kill(frozen.pid, "SIGCONT");
        const a = await frozen.done;
        expect(a.exitCode, String(a.stderr)).toBe(0);
        acknowledged.push(...printed(write, a.stdout));
        check(project, acknowledged);
        const list = await project.list();
        expect(list.map((t) => t.id).sort()).toEqual([...new Set(acknowledged)].sort());
        if (write === "cancel") expect((await project.status(acknowledged[0]!)).status).toBe("cancelled");
      },
      60_000,
    );
  }

  for (const signal of ["SIGKILL", "SIGTERM", "SIGINT"] as const) {
    it(`a command killed by ${signal} while it holds the lock leaves nothing that makes the next one wait`, async () => {
      // A stale time far past the test's own timeout: only the holder's death can free the lock.
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, env: { BGTASK_LOCK_STALE: "1h" } });
      await project.run("noop", ["--no-worker"]);
      const frozen = await frozenAt(project, "locked", ["run", "--no-worker", "noop"], { ownNamespace: false });
      process.kill(frozen.pid, signal);
      process.kill(frozen.pid, "SIGCONT");
      const ended = await frozen.done;
      expect(ended.exitCode).not.toBe(0);
      const next = await project.cli(["run", "--no-worker", "noop"]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout.trim()).toBe("2");
    }, 20_000);
  }
});
