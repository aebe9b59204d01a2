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

async function enqueue(project: Project, contexts: Array<Record<string, unknown>>): Promise<string[]> {
  const marker = join(project.dir, "ledger.txt");
  const file = join(project.dir, "each.jsonl");
  writeFileSync(file, contexts.map((context) => JSON.stringify({ ...context, marker })).join("\n"));
  const result = await project.cli(["run", "--no-worker", "slow", "--each", file]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

describe("a worker's local queue", () => {
  it("claims ahead while tries end quickly: one journal write for many tasks, each task run once", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    const ids = await enqueue(project, Array.from({ length: 300 }, () => ({ ms: 0 })));
    const worker = await startWorker(project);
    expect(worker.exitCode, String(worker.stderr)).toBe(0);
    const state = readJournalState(project);
    expect(journalProblems(state, ids)).toEqual([]);
    expect(state.history.map((t) => [t.id, t.status, t.tries])).toEqual(ids.map((id) => [id, "succeeded", 1]));
    expect(ledger(project).filter((l) => l.what === "start").map((l) => l.id)).toEqual(ids);
    // Far fewer commits than tasks (one per task without the local queue).
    expect(state.doc.rev).toBeLessThan(ids.length / 4);
  }, 60_000);

  it("a worker killed with tasks claimed and not started: recovery gives them back at once, no try counted", async () => {
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    const ids = await enqueue(project, Array.from({ length: 100 }, () => ({ ms: 0 })));
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
    const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") } });
    // Batches of 1, 2, 4, 8, 16, then 32 from task 32: the long one is the 40th, inside that batch.
    const contexts = Array.from({ length: 100 }, (_, i) => ({ ms: i === 39 ? 4_000 : 0 }));
    const ids = await enqueue(project, contexts);
    const long = ids[39]!;
    const first = startWorker(project);
    // The second worker starts once the first is inside the long try, holding the rest of its batch.
    await waitFor(() => ledger(project).some((l) => l.id === long && l.what === "start"), 20_000);
    const second = startWorker(project);
    expect((await first).exitCode).toBe(0);
    expect((await second).exitCode).toBe(0);
    const entries = ledger(project);
    const longEnd = entries.find((l) => l.id === long && l.what === "end")!;
    const longPid = longEnd.pid;
    // Every task after the long one was started before it ended, most by the other worker.
    const after = entries.filter((l) => l.what === "start" && Number(l.id) > Number(long));
    expect(after).toHaveLength(60);
    expect(after.filter((l) => l.at > longEnd.at)).toEqual([]);
    expect(after.filter((l) => l.pid !== longPid).length).toBeGreaterThan(0);
    const state = readJournalState(project);
    expect(state.history.every((t) => t.status === "succeeded" && t.tries === 1)).toBe(true);
  }, 60_000);
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
