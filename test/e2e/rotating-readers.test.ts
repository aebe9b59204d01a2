// Issue 21: readers of the file journal while writers move it on. A compaction rewrites
// journal.json naming a fresh log and unlinks the old one, several times a second here (a writer
// replaces a task holding a large context, over and over): `wait` on thousands of ids must still
// exit 0, not 3, and `watch` must end showing what the journal holds, never saying a worker that
// ended its tries and retired "is gone".
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { readJournalState } from "../helpers/journal.ts";
import { BIN, useProject, waitFor, type Project } from "../helpers/project.ts";
import { budget, scaled, summary } from "../helpers/stress.ts";

/** The generation of the log journal.json names: one more per compaction. */
function generation(project: Project): number {
  return Number(/journal\.(\d+)\.log/.exec(project.logPath)![1]);
}

/**
 * Replaces one scheduled task's large context until stopped: each replacement logs the whole task,
 * so the log outgrows the snapshot (which holds it once) every commit or two.
 */
function rotate(project: Project): { stop(): Promise<number> } {
  const context = join(project.dir, "large.json");
  writeFileSync(context, JSON.stringify({ pad: "r".repeat(300_000) }));
  let stopped = false;
  let runs = 0;
  const loop = (async () => {
    while (!stopped) {
      const result = await project.cli(["run", "noop", "--key", "rotate", "--replace", "--delay", "1h", "--no-worker", "--ctx-file", context]);
      if (result.code !== 0) throw new Error(`the rotating writer failed (${result.code}): ${result.stderr}`);
      runs += 1;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return runs;
    },
  };
}

/** `count` no-op tasks queued in one bulk run, nothing started; their ids. */
async function enqueue(project: Project, count: number): Promise<string[]> {
  const bulk = join(project.dir, "bulk.jsonl");
  writeFileSync(bulk, Array.from({ length: count }, (_, i) => JSON.stringify({ i })).join("\n"));
  const result = await project.cli(["run", "noop", "--each", bulk, "--no-worker"]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

function background(project: Project, args: string[]) {
  return execa(process.execPath, [BIN, ...args], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
}

describe("issue 21: readers while the journal rotates", () => {
  const TASKS = 2_000;
  const WORKERS = 50;
  const RUNS = scaled(1, 5);
  it(
    `wait on ${TASKS} ids exits 0 while ${WORKERS} workers drain and the log rotates (${RUNS} run${RUNS > 1 ? "s" : ""} in a row)`,
    async () => {
      for (let run = 1; run <= RUNS; run++) {
        const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, config: { concurrency: WORKERS } });
        const ids = await enqueue(project, TASKS);
        const rotating = rotate(project);
        const first = generation(project);
        const workers = background(project, ["work", "--concurrency", String(WORKERS), "--workers", String(WORKERS)]);
        const waited = await project.cli(["wait", ...ids]);
        const rotations = generation(project) - first;
        const rotatorRuns = await rotating.stop();
        workers.kill("SIGTERM");
        await workers;
        expect(waited, waited.stderr).toEqual({ code: 0, stdout: "", stderr: "" });
        // The wait read across compactions, not between them.
        expect(rotations).toBeGreaterThanOrEqual(10);
        const state = readJournalState(project);
        expect(ids.filter((id) => state.byId.get(id)?.status !== "succeeded")).toEqual([]);
        summary(
          "rotating wait",
          `run ${run}: wait on ${TASKS} ids exited 0 across ${rotations} compactions (${rotatorRuns} rotating writes) while ${WORKERS} workers drained`,
        );
      }
    },
    budget(600_000, 3_000_000),
  );

  it(
    "watch and watch --json follow a drain of thousands through compactions: every task ends shown final, and no live worker is called gone",
    async () => {
      const tasks = scaled(3_000, 5_000);
      // Detached workers that retire once idle: a watch that showed their tries as running after
      // they ended called each one gone.
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, config: { concurrency: 8 } });
      const ids = await enqueue(project, tasks);
      const rotating = rotate(project);
      // Paused until both watches have read the queue: a watch may start workers, and those drain
      // thousands of no-ops before a process started on a loaded machine reads anything.
      expect((await project.cli(["pause", "noop"])).code).toBe(0);
      const plain = background(project, ["watch"]);
      const json = background(project, ["watch", "--json"]);
      let plainSoFar = "";
      let jsonSoFar = "";
      plain.stdout!.on("data", (chunk: Buffer) => (plainSoFar += chunk.toString("utf8")));
      json.stdout!.on("data", (chunk: Buffer) => (jsonSoFar += chunk.toString("utf8")));
      await waitFor(
        () => /^1 noop queued/m.test(plainSoFar) && jsonSoFar.includes('{"id":"1",'),
        60_000,
        () => "both watches showing task 1 queued",
      );
      expect((await project.cli(["resume", "noop"])).code).toBe(0);
      // Each `run` asks for a worker: as many as the work calls for start, up to `workers`.
      for (let i = 0; i < 8; i++) expect((await project.cli(["run", "noop"])).code).toBe(0);
      const [shown, streamed] = await Promise.all([plain, json]);
      await rotating.stop();
      expect(shown.exitCode, shown.stderr).toBe(0);
      expect(streamed.exitCode, streamed.stderr).toBe(0);
      // The journal's recovery rule found nothing to recover: every task ran once.
      const state = readJournalState(project);
      expect(ids.filter((id) => state.byId.get(id)?.status !== "succeeded" || state.byId.get(id)?.tries !== 1)).toEqual([]);
      expect(String(shown.stderr)).not.toContain("is gone");
      expect(String(streamed.stderr)).not.toContain("is gone");

      // Plain lines "<id> noop <status> …", then the summary "✔ <id> noop succeeded in …".
      const lastPlain = new Map<string, string>();
      for (const line of String(shown.stdout).split("\n")) {
        const match = /^(?:[✔✖] )?(\d+) noop (\w+)/.exec(line);
        if (match) lastPlain.set(match[1]!, match[2]!);
      }
      const lastJson = new Map<string, TaskRecord>();
      for (const line of String(streamed.stdout).trim().split("\n")) {
        const record = JSON.parse(line) as TaskRecord;
        lastJson.set(record.id, record);
      }
      for (const id of ids) {
        expect(lastPlain.get(id), `task ${id} in watch`).toBe("succeeded");
        expect(lastJson.get(id)?.status, `task ${id} in watch --json`).toBe("succeeded");
      }
      summary(
        "rotating watch",
        `watch and watch --json followed ${tasks} tasks across ${generation(project) - 1} compactions: all shown succeeded, no worker called gone`,
      );
    },
    budget(300_000, 900_000),
  );
});
