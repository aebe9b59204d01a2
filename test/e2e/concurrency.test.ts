// D1 and P6: many processes writing the journal at once never lose or duplicate a task, and the
// limits (`concurrency`, `serial`) hold while real detached workers run. The execution ledger
// (start/end lines the executor appends with O_APPEND) is the ground truth for overlap.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { maxOverlap, waitAllFinal } from "../helpers/intervals.ts";
import { journalProblems, readJournalState } from "../helpers/journal.ts";
import { useProject, waitFor } from "../helpers/project.ts";
import { budget, scaled, summary } from "../helpers/stress.ts";

interface Interval {
  id: string;
  pid: number;
  start: number;
  end: number;
}

/** Parses the ledger written by the slow fixture: "<id> <try> <pid> start|end <epoch ms>". */
function ledger(path: string): Interval[] {
  const open = new Map<string, Interval>();
  const done: Interval[] = [];
  for (const line of readFileSync(path, "utf8").trim().split("\n")) {
    const [id, tries, pid, what, at] = line.split(" ");
    const key = `${id}/${tries}`;
    if (what === "start") open.set(key, { id: id!, pid: Number(pid), start: Number(at), end: Infinity });
    else {
      const interval = open.get(key)!;
      interval.end = Number(at);
      done.push(interval);
    }
  }
  return done;
}

describe("D1: many writers, one journal", () => {
  const C1 = scaled(50, 200);
  it(
    `C1: ${C1} \`bgtask run\` started at the same moment make ${C1} distinct tasks that all succeed`,
    async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
      const results = await Promise.all(Array.from({ length: C1 }, () => project.cli(["run", "noop"])));
      const failures = results.filter((r) => r.code !== 0);
      expect(failures.map((r) => r.stderr)).toEqual([]);
      const ids = results.map((r) => r.stdout.trim());
      expect(new Set(ids).size).toBe(C1);
      for (const id of ids) expect(id).toMatch(/^\d+$/);

      const tasks = await waitAllFinal(project, ids, budget(60_000, 300_000));
      expect(
        tasks
          .filter((t) => t.status === "succeeded")
          .map((t) => t.id)
          .sort(),
      ).toEqual([...ids].sort());
      const state = readJournalState(project);
      expect(journalProblems(state, ids)).toEqual([]);
      expect(state.counts.size).toBe(C1);
      // The workers leave on their own once the queue is empty; none is left behind.
      await waitFor(
        () => project.workers().length === 0,
        30_000,
        () => `workers still alive: ${project.workers().join(" ")}`,
      );
      summary("C1", `${C1} simultaneous runs: ${C1} distinct ids, all succeeded, journal valid`);
    },
    budget(90_000, 600_000),
  );

  const WRITERS = scaled(4, 50);
  const RUNS = scaled(6, 20);
  it(
    `C2: ${WRITERS} processes × ${RUNS} sequential runs while workers finish tasks lose no acknowledged task`,
    async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
      const acknowledged: string[] = [];
      // Readers interleave with the writers: a torn or half-written file would fail a list.
      let reads = 0;
      let writing = true;
      const reader = (async () => {
        while (writing) {
          await project.list();
          reads++;
        }
      })();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          for (let i = 0; i < RUNS; i++) acknowledged.push(await project.run("noop"));
        }),
      );
      writing = false;
      await reader;
      expect(new Set(acknowledged).size).toBe(WRITERS * RUNS);

      const tasks = await waitAllFinal(project, acknowledged, budget(60_000, 600_000));
      expect(tasks.filter((t) => acknowledged.includes(t.id)).every((t) => t.status === "succeeded")).toBe(true);
      const state = readJournalState(project);
      expect(journalProblems(state, acknowledged)).toEqual([]);
      expect(state.counts.size).toBe(WRITERS * RUNS);
      await waitFor(
        () => project.workers().length === 0,
        30_000,
        () => `workers still alive: ${project.workers().join(" ")}`,
      );
      summary("C2", `${WRITERS}×${RUNS} runs racing workers and ${reads} list reads: every acknowledged id present once`);
    },
    budget(90_000, 1_200_000),
  );
});

describe("limits while workers run", () => {
  it(
    "P6: `concurrency: 2` with slow tasks: never more than 2 running, never more than 2 live workers",
    async () => {
      const project = useProject(onTestFinished, { tasks: { "slow.ts": fixture("slow.ts") }, config: { concurrency: 2 } });
      const marker = join(project.dir, "ledger.txt");
      const count = scaled(4, 20);
      // Sample from the first run on: workers are started (and retire) while runs are still coming.
      let maxRunning = 0;
      let maxWorkers = 0;
      let samples = 0;
      let sampling = true;
      const workerSampler = setInterval(() => {
        maxWorkers = Math.max(maxWorkers, project.workers().length);
        samples++;
      }, 25);
      const listSampler = (async () => {
        while (sampling) maxRunning = Math.max(maxRunning, (await project.list()).filter((t) => t.status === "running").length);
      })();
      const ids: string[] = [];
      // Tasks long enough that a second run comes before the first task ends, even on a loaded machine.
      for (let i = 0; i < count; i++) ids.push(await project.run("slow", [`ms=${scaled(2000, 1500)}`, `marker=${marker}`]));
      const tasks = await waitAllFinal(project, ids, budget(60_000, 300_000)).finally(() => {
        sampling = false;
        clearInterval(workerSampler);
      });
      await listSampler;
      expect(tasks.filter((t) => t.status === "succeeded")).toHaveLength(count);
      expect(maxRunning).toBeLessThanOrEqual(2);
      expect(maxWorkers).toBeLessThanOrEqual(2);
      const intervals = ledger(marker);
      expect(intervals).toHaveLength(count);
      expect(maxOverlap(intervals)).toBeLessThanOrEqual(2);
      // The limit was reached, not merely respected by running one at a time.
      expect(maxOverlap(intervals)).toBe(2);
      summary(
        "P6",
        `${count} slow tasks, ${samples} worker samples: at most ${maxRunning} running, ${maxWorkers} workers, ledger overlap ${maxOverlap(intervals)}`,
      );
    },
    budget(90_000, 400_000),
  );

  it(
    "a serial executor's tasks never overlap and start in order, while another executor's tasks do overlap",
    async () => {
      const slow = fixture("slow.ts");
      const serialSource = slow.replace("defineTask<{ ms?: number; marker?: string }>({", "$& serial: true,");
      expect(serialSource).not.toBe(slow);
      const project = useProject(onTestFinished, {
        tasks: { "slow.ts": slow, "one-at-a-time.ts": serialSource },
        config: { concurrency: 3 },
      });
      const serialMarker = join(project.dir, "serial.txt");
      const freeMarker = join(project.dir, "free.txt");
      const serialIds: string[] = [];
      const freeIds: string[] = [];
      const n = scaled(3, 8);
      for (let i = 0; i < n; i++) serialIds.push(await project.run("one-at-a-time", ["ms=700", `marker=${serialMarker}`]));
      for (let i = 0; i < n; i++) freeIds.push(await project.run("slow", ["ms=2000", `marker=${freeMarker}`]));

      const tasks = await waitAllFinal(project, [...serialIds, ...freeIds], budget(60_000, 300_000));
      expect(tasks.every((t) => t.status === "succeeded")).toBe(true);
      const serial = ledger(serialMarker);
      const free = ledger(freeMarker);
      expect(serial).toHaveLength(n);
      expect(maxOverlap(serial)).toBe(1);
      expect([...serial].sort((a, b) => a.start - b.start).map((i) => i.id)).toEqual(serialIds);
      expect(maxOverlap(free)).toBeGreaterThanOrEqual(2);
      summary("serial", `${n} serial tasks never overlapped (in order); free tasks overlapped ${maxOverlap(free)} at once`);
    },
    budget(90_000, 300_000),
  );
});

describe("C4: readers while the log is folded into journal.json", () => {
  const TASKS = scaled(1_500, 10_000);
  it(
    `every list and status succeeds while 2 workers drain ${TASKS} tasks and the journal compacts`,
    async () => {
      const project = useProject(onTestFinished, { config: { concurrency: 2 }, tasks: { "noop.js": fixture("noop.js") } });
      const bulk = join(project.dir, "bulk.jsonl");
      // Padded contexts make the log outgrow the snapshot many times over: compactions happen throughout.
      writeFileSync(bulk, Array.from({ length: TASKS }, (_, i) => JSON.stringify({ i, pad: "p".repeat(200) })).join("\n"));
      expect((await project.cli(["run", "noop", "--each", bulk])).code).toBe(0);
      let reads = 0;
      const failures: string[] = [];
      await waitFor(
        async () => {
          const results = await Promise.all([
            ...Array.from({ length: 3 }, () => project.cli(["list", "--json", "--limit", "5"])),
            project.cli(["status", "1", "--json"]),
          ]);
          reads += results.length;
          for (const r of results) if (r.code !== 0) failures.push(r.stderr);
          return (await project.list(["--status", "queued,running"])).length === 0;
        },
        240_000,
        () => `not drained after ${reads} reads`,
      );
      expect(failures).toEqual([]);
      const state = readJournalState(project);
      expect(state.counts.size).toBe(TASKS);
      expect([...state.byId.values()].every((t) => t.status === "succeeded")).toBe(true);
      summary("C4", `${reads} reads while 2 workers drained ${TASKS} tasks through compactions: 0 failures`);
    },
    budget(240_000, 900_000),
  );
});
