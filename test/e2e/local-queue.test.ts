// A worker's local queue: while tries end quickly it claims several tasks in one journal write and
// records their ends with the next claim. What it claimed and never started is given back: by
// recovery when it dies (its beat file names the task it had started), by itself when a try runs long.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { journalProblems, readJournalState, startWorker } from "../helpers/journal.ts";
import { useProject, waitFor, type Project } from "../helpers/project.ts";

interface Ledger {
  id: string;
  tries: number;
  pid: number;
  what: "start" | "end";
  at: number;
}

function ledger(project: Project): Ledger[] {
  const path = join(project.dir, "ledger.txt");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const [id, tries, pid, what, at] = line.split(" ");
      return { id: id!, tries: Number(tries), pid: Number(pid), what: what as Ledger["what"], at: Number(at) };
    });
}

async function enqueue(project: Project, contexts: Array<Record<string, unknown>>, name = "each.jsonl"): Promise<string[]> {
  const marker = join(project.dir, "ledger.txt");
  const file = join(project.dir, name);
  writeFileSync(file, contexts.map((context) => JSON.stringify({ ...context, marker })).join("\n"));
  const result = await project.cli(["run", "--no-worker", "slow", "--each", file]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

describe("a worker's local queue", () => {
  it("claims ahead while tries end quickly: one journal write for many tasks, each task run once", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    const ids = await enqueue(
      project,
      Array.from({ length: 300 }, () => ({ ms: 0 })),
    );
    const worker = await startWorker(project);
    expect(worker.exitCode, String(worker.stderr)).toBe(0);
    const state = readJournalState(project);
    expect(journalProblems(state, ids)).toEqual([]);
    expect(state.history.map((t) => [t.id, t.status, t.tries])).toEqual(ids.map((id) => [id, "succeeded", 1]));
    expect(
      ledger(project)
        .filter((l) => l.what === "start")
        .map((l) => l.id),
    ).toEqual(ids);
    // Far fewer commits than tasks (one per task without the local queue).
    expect(state.doc.rev).toBeLessThan(ids.length / 4);
  }, 60_000);

  it("a worker killed with tasks claimed and not started: recovery gives them back at once, no try counted", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    const ids = await enqueue(
      project,
      Array.from({ length: 100 }, () => ({ ms: 0 })),
    );
    // The worker's 6th commit claims a batch of 16 (after 1, 2, 4 and 8): killed just after it.
    const killed = await startWorker(project, { BGTASK_TEST_CRASH_AT: "log-appended@6" });
    expect(killed.signal, String(killed.stderr)).toBe("SIGKILL");
    const held = readJournalState(project).doc.tasks.filter((t) => t.status === "running");
    expect(held.length).toBeGreaterThan(1);
    const started = new Set(ledger(project).map((l) => l.id));
    expect(held.filter((t) => started.has(t.id))).toEqual([]);

    expect((await startWorker(project)).exitCode).toBe(0);
    const state = readJournalState(project);
    expect(journalProblems(state, ids)).toEqual([]);
    // None failed as "the worker died", none had a try counted that never ran.
    expect(state.history.map((t) => [t.id, t.status, t.tries])).toEqual(ids.map((id) => [id, "succeeded", 1]));
    const starts = ledger(project).filter((l) => l.what === "start");
    expect(starts.map((l) => l.id).sort()).toEqual([...ids].sort());
  }, 60_000);

  it("a try that runs long gives back what was claimed after it, so another worker runs those meanwhile", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts"), "gated.ts": fixture("gated.ts") } });
    // Batches of 1, 2, 4, 8, 16, then 32 from task 32: the held task is the 40th, inside that batch.
    const before = await enqueue(
      project,
      Array.from({ length: 39 }, () => ({ ms: 0 })),
    );
    const held = await project.run("gated", ["--no-worker", "--ctx", JSON.stringify({ dir: project.dir, stages: [{ progress: 1 }] })]);
    const after = await enqueue(
      project,
      Array.from({ length: 60 }, () => ({ ms: 0 })),
      "after.jsonl",
    );
    expect(Number(held)).toBe(before.length + 1);
    const first = startWorker(project);
    // It runs until the test opens its gate: it has started once it reported progress.
    await project.waitForTask(held, (t) => t.progress >= 1, 30_000);
    const second = startWorker(project);
    // Every task after it starts while it is still held: those the first worker claimed with it went back.
    await waitFor(
      () =>
        new Set(
          ledger(project)
            .filter((l) => l.what === "start")
            .map((l) => l.id),
        ).size ===
        before.length + after.length,
      30_000,
    );
    writeFileSync(join(project.dir, "gate-0"), "");
    expect((await first).exitCode).toBe(0);
    expect((await second).exitCode).toBe(0);
    const starts = ledger(project).filter((l) => l.what === "start" && after.includes(l.id));
    expect(starts).toHaveLength(after.length);
    const heldBy = readJournalState(project).byId.get(held)!.history[0]!.worker!.pid;
    expect(starts.filter((l) => l.pid !== heldBy).length).toBeGreaterThan(0);
    const state = readJournalState(project);
    expect(state.history.every((t) => t.status === "succeeded" && t.tries === 1)).toBe(true);
  }, 90_000);
});

describe("a worker draining a deep queue of quick tasks", () => {
  it("obeys SIGTERM between its journal writes: it stops soon, with the rest still queued", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const file = join(project.dir, "deep.jsonl");
    writeFileSync(file, Array.from({ length: 60_000 }, (_, i) => JSON.stringify({ i })).join("\n"));
    expect((await project.cli(["run", "--no-worker", "noop", "--each", file])).code).toBe(0);
    const worker = startWorker(project);
    await waitFor(() => readJournalState(project).history.length >= 200, 20_000);
    worker.kill("SIGTERM");
    const ended = await worker;
    expect(ended.exitCode, String(ended.stderr)).toBe(0);
    const state = readJournalState(project);
    expect(journalProblems(state, [])).toEqual([]);
    // It stopped claiming when asked: most of the queue is still there, none of it running.
    expect(state.cold.length).toBeGreaterThan(30_000);
    expect(state.doc.tasks.filter((t) => t.status === "running")).toEqual([]);
  }, 60_000);
});
