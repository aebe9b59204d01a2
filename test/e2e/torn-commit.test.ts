// Issue 10's wedge: `truncate -s -1` on the log removes only the last commit line's newline. Every
// reader ignored that line, but every writer took it for another writer's commit, and after five
// tries `run`, `tick` and workers died with "internal error … moved under us", forever; a full disk
// cutting a write just after `{"commit":55}` did the same. Now the line is judged as replay judges
// it: a commit only with its newline. Cut from a worker's unsynced bookkeeping, it is a crash's
// leftover and the next writer cuts it; cut from a change that was acknowledged (synced, so the
// commit mark names it), it is damage: exit 3 naming the log and `bgtask doctor`, whose repair
// keeps the transaction (its checksum proves it whole) and loses nothing. Never a wedge, never an
// id handed out twice.
import { readFileSync, truncateSync } from "node:fs";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { journalProblems, readJournalState, startWorker } from "../helpers/journal.ts";
import { useProject } from "../helpers/project.ts";

function tearLastNewline(path: string): void {
  const bytes = readFileSync(path);
  expect(bytes.at(-1)).toBe(10);
  expect(bytes.subarray(bytes.lastIndexOf(10, bytes.length - 2) + 1).toString()).toMatch(/^\{"commit":\d+/);
  truncateSync(path, bytes.length - 1);
}

describe("a torn commit line (the log's last newline removed)", () => {
  it("after a worker's unsynced bookkeeping: every command works, the next writer cuts it, nothing is lost", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const ids = [await project.run("noop", ["--no-worker"]), await project.run("noop", ["--no-worker"])];
    // A worker drains and retires: its last commits (settle, slot release) are not synced.
    expect((await startWorker(project)).exitCode).toBe(0);
    tearLastNewline(project.logPath);
    expect((await project.cli(["list"])).code).toBe(0);
    for (let i = 0; i < 3; i++) ids.push(await project.run("noop", ["--no-worker"]));
    const tick = await project.cli(["tick"]);
    expect(tick.code, tick.stderr).toBe(0);
    const state = readJournalState(project);
    expect(journalProblems(state, ids)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect((await project.status(id)).status).toBe("succeeded");
    expect((await project.cli(["doctor"])).code).toBe(0);
  });

  it("after an acknowledged `run`: exit 3 naming the log and doctor, never an internal error; repair keeps the task and loses nothing", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const kept = await project.run("noop", ["--no-worker"]);
    const torn = await project.run("noop", ["--no-worker"]);
    const log = project.logPath;
    tearLastNewline(log);
    for (const args of [["run", "--no-worker", "noop"], ["tick"], ["list"], ["status", kept]]) {
      const result = await project.cli(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(3);
      expect(result.stderr).not.toMatch(/internal error/);
      expect(result.stderr).toContain(`the journal ${log} cannot be read`);
      expect(result.stderr).toContain("bgtask doctor");
    }
    const doctor = await project.cli(["doctor"]);
    expect(doctor.code).toBe(3);
    expect(doctor.stdout).toMatch(/lost its newline.*--repair keeps it/);
    const repair = await project.cli(["doctor", "--repair"]);
    expect(repair.code, repair.stdout).toBe(0);
    expect(repair.stdout).toContain("nothing was lost");
    for (const id of [kept, torn]) expect((await project.status(id)).status).toBe("queued");
    const next = await project.run("noop", ["--no-worker"]);
    expect(Number(next)).toBeGreaterThan(Number(torn));
    expect((await project.cli(["doctor"])).code).toBe(0);
  });
});
