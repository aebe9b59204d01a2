// The two reproductions of issue 10, as a user ran them: bulk enqueues while two workers drain.
// Before the fix the history lost committed bytes (a writer with a stale view cut it back) and
// every command then exited 3; or a bulk run died with "journal.<n>.log moved under us". Now every
// acknowledged task is there exactly once, every command still reads the journal, and the drain
// finishes. Counts grow under `npm run stress` to the issue's own (10 × 10,000; 3 × 60,000).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { journalProblems, readJournalState } from "../helpers/journal.ts";
import { useProject, waitFor, type Project } from "../helpers/project.ts";
import { budget, scaled, STRESS, summary } from "../helpers/stress.ts";

function contexts(project: Project, name: string, count: number, line: string): string {
  const path = join(project.dir, name);
  writeFileSync(path, `${line}\n`.repeat(count));
  return path;
}

async function bulk(project: Project, file: string): Promise<string[]> {
  const result = await project.cli(["run", "noop", "--each", file]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

/**
 * Every command still reads the journal (the failure made them all exit 3); then, once the queue
 * has drained — or, under stress, once the drain budget is spent (a queue this deep drains slowly,
 * which is issue 10's other half) and the workers are stopped — every acknowledged task is in the
 * journal exactly once and none failed.
 */
async function expectIntact(project: Project, acknowledged: string[], label: string): Promise<void> {
  const list = await project.cli(["list"]);
  expect(list.code, list.stderr).toBe(0);
  const left = async () => (await project.journalState()).tasks.length;
  const drained = await waitFor(
    async () => (await left()) === 0,
    budget(120_000, 600_000),
    () => "the queue never drained",
    500,
  ).then(
    () => true,
    (error: unknown) => {
      if (!STRESS) throw error;
      return false;
    },
  );
  for (const pid of project.workers()) process.kill(pid, "SIGTERM");
  await waitFor(
    () => project.workers().length === 0,
    120_000,
    () => `workers still running: ${project.workers().join(", ")}`,
    500,
  );
  const state = readJournalState(project);
  expect(journalProblems(state, acknowledged)).toEqual([]);
  expect(state.history.filter((t) => t.status !== "succeeded")).toEqual([]);
  expect(new Set(acknowledged).size).toBe(acknowledged.length);
  expect((await project.status(acknowledged[0]!)).status).toBe("succeeded");
  summary(
    label,
    `${acknowledged.length} tasks enqueued in bulk while 2 workers drained (${drained ? "all" : `${state.history.length}`} finished): each in the journal once, none failed, every command reads`,
  );
}

/** A project of no-op tasks drained by two workers that outlast the gaps between bulk runs. */
function drainingProject(lockStale: string): Project {
  return useProject(onTestFinished, {
    tasks: { "noop.js": fixture("noop.js") },
    config: { concurrency: 2 },
    env: { BGTASK_LOCK_STALE: lockStale, BGTASK_IDLE: "5s" },
  });
}

describe("issue 10: bulk enqueues while workers drain", () => {
  it(
    "reproduction 1: repeated bulk runs of {} with default lock settings lose nothing",
    async () => {
      // The default stale time (10 s): the variable empty.
      const project = drainingProject("");
      const file = contexts(project, "10k.jsonl", scaled(2_000, 10_000), "{}");
      const acknowledged: string[] = [];
      for (let k = 0; k < scaled(4, 10); k++) acknowledged.push(...(await bulk(project, file)));
      await expectIntact(project, acknowledged, "issue 10 repro 1");
    },
    budget(180_000, 1_500_000),
  );

  it(
    "reproduction 2: big bulk runs with a 2 s stale time lose nothing and never report the log moved",
    async () => {
      const project = drainingProject("2s");
      const acknowledged = await bulk(project, contexts(project, "small.jsonl", 3_000, "{}"));
      const big = contexts(project, "big.jsonl", scaled(6_000, 60_000), JSON.stringify({ pad: "x".repeat(80) }));
      for (let k = 0; k < 3; k++) acknowledged.push(...(await bulk(project, big)));
      await expectIntact(project, acknowledged, "issue 10 repro 2");
    },
    budget(180_000, 1_500_000),
  );
});
