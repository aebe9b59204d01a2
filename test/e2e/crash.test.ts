// D2: a process SIGKILLed anywhere in a journal write leaves a valid journal holding every task
// acknowledged before the kill, and the lock it leaves behind is taken over after the stale
// threshold (BGTASK_LOCK_STALE=2s in test projects). K1 kills at random moments, K2 at every
// step of the write path (BGTASK_TEST_CRASH_AT, src/journal/file/crash-points.ts).
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import type { CrashPoint } from "../../src/journal/file/crash-points.ts";
import { fixture } from "../helpers/fixtures.ts";
import { homeEntries, journalProblems, readJournalState, sha256, startWorker } from "../helpers/journal.ts";
import { BIN, useProject, waitFor, type Project } from "../helpers/project.ts";
import { budget, scaled, seededRandom, STRESS, summary } from "../helpers/stress.ts";

const STALE_MS = 2_000;
/** How long the command after a crash may take: the stale threshold plus generous slack for a loaded machine. */
const RECOVERY_BOUND_MS = STALE_MS + 15_000;

/** `run --no-worker noop` that must succeed within the recovery bound; returns the id. */
async function runAfterCrash(project: Project): Promise<string> {
  const started = Date.now();
  const result = await project.cli(["run", "--no-worker", "noop"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(Date.now() - started).toBeLessThan(RECOVERY_BOUND_MS);
  return result.stdout.trim();
}

function journalFiles(project: Project): string {
  return sha256(project.journalBytes()) + sha256(existsSync(join(project.home, "history.jsonl")) ? readFileSync(join(project.home, "history.jsonl")) : null);
}

type KillMode = "anytime" | "journal.lock" | ".log";

/** One project killed `kills` times in a row; lanes run side by side, as most of a lane is waiting on stale locks. */
async function killLane(lane: number, kills: number) {
  const random = seededRandom(`K1 lane ${lane}`);
  const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
  // How long a run takes right now, followed as the load on the machine changes.
  let span = 0;
  const timedRun = async () => {
    const started = Date.now();
    const id = await runAfterCrash(project);
    span = span === 0 ? Date.now() - started : 0.7 * span + 0.3 * (Date.now() - started);
    return id;
  };
  const acknowledged = [await timedRun(), await timedRun()];
  const modes: Record<KillMode, number> = { anytime: 0, "journal.lock": 0, ".log": 0 };
  let unacknowledged = 0;
  let leftLock = 0;
  for (let i = 0; i < kills; i++) {
    const before = readJournalState(project).counts.size;
    const child = execa(process.execPath, [BIN, "run", "--no-worker", "noop"], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
    const kill = () => child.kill("SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    const mode = (["anytime", "journal.lock", ".log"] as const)[Math.floor(random() * 3)]!;
    modes[mode]++;
    if (mode === "anytime") {
      // From late in start-up (module loading is most of a run) to just after a normal run ends.
      timer = setTimeout(kill, span * (0.3 + random()));
    } else {
      // Aim at the write itself: a moment after the lock is taken, or after the append to the log begins.
      const delay = random() * 4;
      watcher = watch(project.home, (_, name) => {
        if (!name?.endsWith(mode) || timer) return;
        timer = setTimeout(kill, delay);
      });
    }
    const result = await child;
    clearTimeout(timer);
    watcher?.close();
    if (result.exitCode === 0) acknowledged.push(String(result.stdout).trim());
    else {
      expect(result.signal).toBe("SIGKILL");
      unacknowledged++;
    }
    const state = readJournalState(project);
    expect(journalProblems(state, acknowledged)).toEqual([]);
    // A killed run adds its task or nothing, never more than one.
    expect(state.counts.size - before).toBeLessThanOrEqual(1);
    if (homeEntries(project).includes("journal.lock")) leftLock++;
    // The next command works, taking over a lock the killed run may have left.
    acknowledged.push(await timedRun());
  }
  const state = readJournalState(project);
  expect(journalProblems(state, acknowledged)).toEqual([]);
  expect(state.counts.size - acknowledged.length).toBeLessThanOrEqual(unacknowledged);
  return { modes, unacknowledged, leftLock, acknowledged: acknowledged.length };
}

describe("K1: run killed with SIGKILL at a random moment", () => {
  const LANES = scaled(3, 5);
  const KILLS = scaled(9, 300);
  it(
    `after each of ${KILLS} kills the journal parses and holds every acknowledged task exactly once`,
    async () => {
      const lanes = await Promise.all(Array.from({ length: LANES }, (_, lane) => killLane(lane, Math.ceil(KILLS / LANES))));
      const total = (pick: (lane: (typeof lanes)[number]) => number) => lanes.reduce((sum, lane) => sum + pick(lane), 0);
      summary(
        "K1",
        `${total((l) => l.modes.anytime + l.modes["journal.lock"] + l.modes[".log"])} kills in ${LANES} projects ` +
          `(${total((l) => l.modes.anytime)} at any moment, ${total((l) => l.modes["journal.lock"])} just after the lock was taken, ` +
          `${total((l) => l.modes[".log"])} just after the log append began; ${total((l) => l.unacknowledged)} before the id was printed, ` +
          `${total((l) => l.leftLock)} left the lock behind): journal valid after each, ${total((l) => l.acknowledged)} acknowledged tasks all present once`,
      );
    },
    budget(90_000, 1_800_000),
  );
});

/** The steps of an ordinary write: the commit is the append to the log. */
const POINTS: readonly CrashPoint[] = ["locked", "read", "history-appended", "history-indexed", "log-appended", "before-unlock"];
/** Points before the commit: journal.json and its log must be untouched by the dying process. */
const BEFORE_RENAME = new Set<CrashPoint>(["locked", "read", "history-appended", "history-indexed"]);
/** Points only a transaction that makes a task final reaches. */
const HISTORY_POINTS = new Set<CrashPoint>(["history-appended", "history-indexed"]);
/** The steps of writing journal.json itself (creating the journal, folding the log into it). */
const SNAPSHOT_POINTS: readonly CrashPoint[] = ["temp-written", "renamed", "snapshot-written"];

describe("K2: deterministic crash points", () => {
  const REPEAT = scaled(1, 10);
  it(
    "`run` killed at each step of its write: journal valid, untouched before the rename, next command recovers the lock",
    async () => {
      for (let round = 0; round < REPEAT; round++) {
        await Promise.all(
          POINTS.map(async (point) => {
            const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
            const acknowledged = [await runAfterCrash(project)];
            const before = journalFiles(project);
            const crashed = await project.cli(["run", "--no-worker", "noop"], { env: { BGTASK_TEST_CRASH_AT: point } });
            if (HISTORY_POINTS.has(point)) {
              // A new task is not final: `run` appends nothing to the history and never reaches this point.
              expect(crashed.code).toBe(0);
              acknowledged.push(crashed.stdout.trim());
            } else {
              expect(crashed.code, `${point}: ${crashed.stderr}`).toBe(-1);
              expect(crashed.stdout).toBe("");
            }
            const state = readJournalState(project);
            expect(journalProblems(state, acknowledged)).toEqual([]);
            if (BEFORE_RENAME.has(point) && !HISTORY_POINTS.has(point)) expect(journalFiles(project)).toBe(before);
            if (point === "log-appended" || point === "before-unlock") expect(state.counts.size).toBe(2);
            // Readers do not wait for the lock and skip a leftover temp file.
            expect((await project.list()).length).toBe(state.counts.size);
            acknowledged.push(await runAfterCrash(project));
            expect(journalProblems(readJournalState(project), acknowledged)).toEqual([]);
            expect(homeEntries(project)).not.toContain("journal.lock");
          }),
        );
      }
      summary("K2 run", `${REPEAT}× each of ${POINTS.join(", ")} in \`run\`: journal valid, untouched before rename, next run recovered`);
    },
    budget(60_000, 300_000),
  );

  it(
    "`run` killed while writing journal.json (creating it, or folding a long log into it): the old journal or the new, never half",
    async () => {
      for (let round = 0; round < REPEAT; round++) {
        await Promise.all(
          SNAPSHOT_POINTS.flatMap((point) => [
            // The first run creates journal.json: killed there, the next run starts from nothing.
            (async () => {
              const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
              const crashed = await project.cli(["run", "--no-worker", "noop"], { env: { BGTASK_TEST_CRASH_AT: point } });
              expect(crashed.code, `${point}: ${crashed.stderr}`).toBe(-1);
              if (existsSync(project.journalPath)) expect(journalProblems(readJournalState(project), [])).toEqual([]);
              const next = await runAfterCrash(project);
              expect(journalProblems(readJournalState(project), [next])).toEqual([]);
            })(),
            // A bulk enqueue grows the log past the snapshot: it is folded into a new journal.json
            // after the commit, so the tasks are there whether the fold completed or not.
            (async () => {
              const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
              const first = await runAfterCrash(project);
              const bulk = join(project.dir, "bulk.jsonl");
              writeFileSync(bulk, Array.from({ length: 800 }, (_, i) => JSON.stringify({ i, pad: "x".repeat(300) })).join("\n"));
              const crashed = await project.cli(["run", "--no-worker", "noop", "--each", bulk], { env: { BGTASK_TEST_CRASH_AT: point } });
              expect(crashed.code, `${point}: ${crashed.stderr}`).toBe(-1);
              const state = readJournalState(project);
              expect(journalProblems(state, [first])).toEqual([]);
              expect(state.counts.size).toBe(801);
              const next = await runAfterCrash(project);
              expect(journalProblems(readJournalState(project), [first, next])).toEqual([]);
            })(),
          ]),
        );
      }
      summary("K2 snapshot", `${REPEAT}× each of ${SNAPSHOT_POINTS.join(", ")} while creating and compacting journal.json: journal valid, nothing lost`);
    },
    budget(60_000, 300_000),
  );

  it(
    "a worker killed at each step of finishing a task: journal valid, task not lost, next worker recovers it",
    async () => {
      for (let round = 0; round < REPEAT; round++) {
        await Promise.all(
          POINTS.map(async (point) => {
            const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
            const id = await runAfterCrash(project);
            // A worker's writes for one noop task: register, claim, then the settle (with the next claim,
            // which finds nothing); a no-op reports nothing. history-appended happens only in the
            // settle (the task turns final), so it is the first time there.
            const at = HISTORY_POINTS.has(point) ? `${point}@1` : `${point}@3`;
            const worker = await startWorker(project, { BGTASK_TEST_CRASH_AT: at });
            expect(worker.signal, `${at}: ${String(worker.stderr)}`).toBe("SIGKILL");
            const state = readJournalState(project);
            expect(journalProblems(state, [id])).toEqual([]);
            const task = state.byId.get(id)!;
            if (BEFORE_RENAME.has(point)) {
              // The settle never landed: the task is still running, history has no committed line.
              expect(task.status).toBe("running");
              expect(state.doc.history.bytes).toBe(0);
            } else {
              expect(task.status).toBe("succeeded");
              expect(state.history.map((t) => t.id)).toEqual([id]);
            }
            // The next command takes over the lock; the next worker recovers the dead worker's task.
            const next = await runAfterCrash(project);
            expect((await startWorker(project)).exitCode).toBe(0);
            const after = readJournalState(project);
            expect(journalProblems(after, [id, next])).toEqual([]);
            expect(after.byId.get(next)!.status).toBe("succeeded");
            const recovered = after.byId.get(id)!;
            // Read through the history index, which the killed writer may have left ahead of the commit.
            const { status, message, tries, finishedAt } = recovered;
            expect(await project.status(id)).toMatchObject({ status, message, tries, finishedAt });
            if (BEFORE_RENAME.has(point)) {
              expect(recovered.status).toBe("failed");
              expect(recovered.error?.message).toMatch(/worker running this task died/);
            } else {
              expect(recovered.status).toBe("succeeded");
            }
          }),
        );
      }
      summary("K2 worker", `${REPEAT}× each of ${POINTS.join(", ")} in a worker's settle: no task lost, dead worker's task recovered`);
    },
    budget(60_000, 300_000),
  );

  it.runIf(STRESS)(
    "stress: a worker killed at every write of its life, at every point",
    async () => {
      let kills = 0;
      for (const point of POINTS) {
        for (let n = 1; ; n++) {
          const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
          const id = await runAfterCrash(project);
          const worker = await startWorker(project, { BGTASK_TEST_CRASH_AT: `${point}@${n}` });
          expect(journalProblems(readJournalState(project), [id])).toEqual([]);
          if (worker.signal !== "SIGKILL") {
            expect(worker.exitCode).toBe(0);
            break;
          }
          kills++;
          const next = await runAfterCrash(project);
          expect((await startWorker(project)).exitCode).toBe(0);
          const after = readJournalState(project);
          expect(journalProblems(after, [id, next])).toEqual([]);
          expect([...after.byId.values()].every((t) => t.completed)).toBe(true);
          project.cleanup();
        }
      }
      summary("K2 sweep", `${kills} worker kills, one at every write of a worker's life: journal valid and no task lost after each`);
    },
    1_800_000,
  );
});

describe("a worker killed in the middle of a progress storm", () => {
  const KILLS = scaled(3, 60);
  it(
    `leaves a valid journal after each of ${KILLS} kills, and its task is recovered`,
    async () => {
      const random = seededRandom("storm");
      const project = useProject(onTestFinished, {
        tasks: {
          "noop.js": fixture("noop.js"),
          "storm.js": `
            import { defineTask } from "bgtask";
            export default defineTask({
              async run(task) {
                for (let i = 0; ; i++) {
                  await task.progress(i % 100, "storm " + i);
                  await new Promise((resolve) => setImmediate(resolve));
                }
              },
            });`,
        },
        // Reports are written as fast as the journal takes them.
        env: { BGTASK_REPORT_INTERVAL: "0" },
      });
      const acknowledged: string[] = [];
      for (let i = 0; i < KILLS; i++) {
        const id = await project.run("storm");
        acknowledged.push(id);
        const running = await project.waitForTask(id, (t) => t.status === "running" && t.progress > 0, 30_000);
        await new Promise((resolve) => setTimeout(resolve, random() * 300));
        process.kill(running.worker!.pid, "SIGKILL");
        await waitFor(
          () => !project.workers().includes(running.worker!.pid),
          10_000,
          () => "killed worker still listed",
        );
        expect(journalProblems(readJournalState(project), acknowledged)).toEqual([]);
      }
      // A worker started by the next run recovers every storm task (no retries: failed, worker died).
      acknowledged.push(await project.run("noop"));
      await waitFor(
        () => {
          const state = readJournalState(project);
          return acknowledged.every((id) => state.byId.get(id)?.completed);
        },
        budget(30_000, 120_000),
        () => "tasks of killed workers were not recovered",
        200,
      );
      const state = readJournalState(project);
      expect(journalProblems(state, acknowledged)).toEqual([]);
      for (const id of acknowledged.slice(0, -1)) {
        expect(state.byId.get(id)).toMatchObject({ status: "failed" });
        expect(state.byId.get(id)!.error?.message).toMatch(/worker running this task died/);
      }
      expect(state.byId.get(acknowledged.at(-1)!)!.status).toBe("succeeded");
      summary("storm", `${KILLS} workers killed mid-progress-storm: journal valid after each, every task recovered`);
    },
    budget(60_000, 900_000),
  );
});
