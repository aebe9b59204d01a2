// The cold queue: past the active set's limit, plain queued tasks wait in an append-only segment
// (queue.<n>.jsonl) instead of journal.json and its log, so a deep queue costs a command or a worker
// nothing until a claim reaches it. Driven through the built CLI and real workers.
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { homeEntries, journalProblems, readJournalState, startWorker } from "../helpers/journal.ts";
import { useProject, type Project } from "../helpers/project.ts";

const DEEP = 1_500;

function bulkFile(project: Project, n: number, name = "bulk.jsonl"): string {
  const path = join(project.dir, name);
  writeFileSync(path, Array.from({ length: n }, (_, i) => JSON.stringify({ i })).join("\n"));
  return path;
}

async function deepProject(): Promise<{ project: Project; ids: string[] }> {
  const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
  const result = await project.cli(["run", "--no-worker", "noop", "--each", bulkFile(project, DEEP)]);
  expect(result.code, result.stderr).toBe(0);
  return { project, ids: result.stdout.trim().split("\n") };
}

describe("the cold queue", () => {
  it("holds a bulk enqueue past the active set's limit outside journal.json; a worker drains it in id order, each task once", async () => {
    const { project, ids } = await deepProject();
    const before = readJournalState(project);
    expect(before.doc.tasks).toHaveLength(0);
    expect(before.cold.map((t) => t.id)).toEqual(ids);
    expect(homeEntries(project)).toContain("queue.1.jsonl");
    // journal.json holds the meta, not the 1,500 tasks.
    expect(statSync(project.journalPath).size).toBeLessThan(2_048);
    expect(await project.status(ids[700]!)).toMatchObject({ id: ids[700], status: "queued", context: { i: 700 } });

    const worker = await startWorker(project);
    expect(worker.exitCode, String(worker.stderr)).toBe(0);
    const after = readJournalState(project);
    expect(journalProblems(after, ids)).toEqual([]);
    expect(after.cold).toEqual([]);
    // One worker, concurrency 1: the history's order is the claim order.
    expect(after.history.map((t) => t.id)).toEqual(ids);
    expect(after.history.every((t) => t.status === "succeeded" && t.tries === 1)).toBe(true);
  }, 60_000);

  it("cancel and remove reach a cold task: the worker passes over both, and their ids are never handed out again", async () => {
    const { project, ids } = await deepProject();
    expect((await project.cli(["cancel", ids[10]!])).code).toBe(0);
    expect((await project.cli(["remove", ids[11]!])).code).toBe(0);
    expect((await project.status(ids[10]!)).status).toBe("cancelled");
    expect((await project.cli(["status", ids[11]!])).code).toBe(2);
    const queued = await project.list(["--status", "queued", "--limit", "12"]);
    expect(queued.map((t) => t.id)).toEqual([...ids.slice(0, 10), ...ids.slice(12, 14)]);

    expect((await startWorker(project)).exitCode).toBe(0);
    const state = readJournalState(project);
    const ran = state.history.filter((t) => t.status === "succeeded").map((t) => t.id);
    expect(ran).toEqual(ids.filter((_, i) => i !== 10 && i !== 11));
    expect(state.doc.queue.skip).toEqual([]);
    const next = await project.run("noop", ["--no-worker"]);
    expect(Number(next)).toBe(DEEP + 1);
  }, 60_000);

  it("a used-up segment is replaced by the next bulk enqueue, and the old one removed", async () => {
    const { project } = await deepProject();
    expect((await startWorker(project)).exitCode).toBe(0);
    const again = await project.cli(["run", "--no-worker", "noop", "--each", bulkFile(project, DEEP, "again.jsonl")]);
    expect(again.code, again.stderr).toBe(0);
    expect(homeEntries(project).filter((name) => name.startsWith("queue."))).toEqual(["queue.2.jsonl"]);
    const state = readJournalState(project);
    expect(state.cold).toHaveLength(DEEP);
    expect(journalProblems(state, again.stdout.trim().split("\n"))).toEqual([]);
  }, 60_000);

  for (const point of ["queue-appended", "log-appended"] as const) {
    it(`a bulk enqueue killed at ${point}: no id printed, nothing half there, the next enqueue cuts the uncommitted tail`, async () => {
      const { project, ids } = await deepProject();
      const crashed = await project.cli(["run", "--no-worker", "noop", "--each", bulkFile(project, 200, "more.jsonl")], {
        env: { BGTASK_TEST_CRASH_AT: point },
      });
      expect(crashed.code, crashed.stderr).toBe(-1);
      expect(crashed.stdout).toBe("");
      const state = readJournalState(project);
      expect(journalProblems(state, ids)).toEqual([]);
      // Killed after the log's commit line, the 200 are committed though their ids were never printed.
      expect(state.cold).toHaveLength(point === "queue-appended" ? DEEP : DEEP + 200);
      const next = await project.run("noop", ["--no-worker"]);
      const after = readJournalState(project);
      expect(journalProblems(after, [...ids, next])).toEqual([]);
      expect(statSync(join(project.home, after.doc.queue.file)).size).toBe(after.doc.queue.bytes);
      expect((await project.cli(["doctor"])).code).toBe(0);
    }, 60_000);
  }

  it("a journal an older bgtask wrote (version 1) keeps new tasks where that one looks until a compaction makes it version 2", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    await project.run("noop", ["--no-worker"]);
    const { doc } = readJournalState(project);
    // Laid out whole and without a checksum, as older versions wrote it.
    const { queue: _queue, crc: _crc, ...older } = { ...doc, version: 1, rev: doc.rev + 1 } as typeof doc & { crc?: number };
    writeFileSync(project.journalPath, JSON.stringify(older));
    writeFileSync(join(project.home, doc.log), "");
    const first = await project.cli(["run", "--no-worker", "noop", "--each", bulkFile(project, DEEP)]);
    expect(first.code, first.stderr).toBe(0);
    expect(homeEntries(project).some((name) => name.startsWith("queue."))).toBe(false);
    // The bulk enqueue's log outgrew the snapshot: folded into a journal.json of this version.
    expect(readJournalState(project).doc.version).toBe(2);
    const second = await project.cli(["run", "--no-worker", "noop", "--each", bulkFile(project, DEEP, "again.jsonl")]);
    expect(second.code, second.stderr).toBe(0);
    const state = readJournalState(project);
    expect(state.doc.tasks).toHaveLength(DEEP + 1);
    expect(state.cold.map((t) => t.id)).toEqual(second.stdout.trim().split("\n"));
    expect(journalProblems(state, [...first.stdout.trim().split("\n"), ...second.stdout.trim().split("\n")])).toEqual([]);
  }, 60_000);

  it("a cut segment: commands and doctor name it, and --repair keeps every task before the cut and names the rest", async () => {
    const { project, ids } = await deepProject();
    const segment = join(project.home, "queue.1.jsonl");
    const text = readFileSync(segment, "utf8");
    // Cut inside the line of the 1,001st task.
    const cut = text.split("\n").slice(0, 1_000).join("\n").length + 30;
    truncateSync(segment, cut);
    const status = await project.cli(["status", ids[1_400]!]);
    expect(status.code).toBe(3);
    expect(status.stderr).toMatch(/queue\.1\.jsonl/);
    expect(status.stderr).toMatch(/bgtask doctor/);
    const doctor = await project.cli(["doctor", "--json"]);
    expect(doctor.code).toBe(3);
    const report = JSON.parse(doctor.stdout) as { files: Array<{ role: string; status: string; problem: string | null }> };
    expect(report.files.find((f) => f.role === "queue")).toMatchObject({
      status: "damaged",
      problem: expect.stringMatching(/bytes long but the journal committed/),
    });

    const repair = await project.cli(["doctor", "--repair", "--json"]);
    expect(repair.code, repair.stderr).toBe(1);
    const repaired = JSON.parse(repair.stdout) as { lost: string[]; kept: number };
    expect(repaired.lost).toEqual(ids.slice(1_000));
    expect(repaired.kept).toBe(1_000);
    expect((await project.cli(["doctor"])).code).toBe(0);
    expect((await startWorker(project)).exitCode).toBe(0);
    const state = readJournalState(project);
    expect(state.history.map((t) => t.id)).toEqual(ids.slice(0, 1_000));
    // Lost ids are not handed out again.
    expect(Number(await project.run("noop", ["--no-worker"]))).toBe(DEEP + 1);
  }, 60_000);
});
