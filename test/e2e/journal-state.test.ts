// The journal's state beside its tasks (paused queues, each schedule's last slot) survives every
// rewrite of the journal: here the file journal's compaction, forced by big contexts, with the
// same commands on PostgreSQL. Issue 21's reproduction: both were dropped at each compaction, and a
// schedule then fired a slot twice.
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { EVERY_2S, scheduled, tickUntilFired } from "../helpers/schedules.ts";
import { describeOnJournals, useProject, waitFor, type Project } from "../helpers/project.ts";

/** The log journal.json names now: a compaction moves it on. */
function logName(project: Project): string {
  return (project.readJournal() as { log: string }).log;
}

/** Stores a task whose context pushes the file journal's log past its compaction threshold (the larger of 256 KiB and the snapshot). */
async function forceCompaction(project: Project): Promise<void> {
  const before = project.journal === "file" ? logName(project) : null;
  const snapshot = project.journal === "file" ? statSync(project.journalPath).size : 0;
  const file = join(project.dir, "big.json");
  writeFileSync(file, JSON.stringify({ blob: "x".repeat(Math.max(300_000, snapshot + 10_000)) }));
  const run = await project.cli(["run", "noop", "--no-worker", "--ctx-file", file]);
  expect(run.code, run.stderr).toBe(0);
  if (before !== null) expect(logName(project), "the journal was compacted").not.toBe(before);
}

async function lastSlots(project: Project, journal: string[] = []): Promise<unknown> {
  const listed = await project.cli(["schedules", "--json", ...journal]);
  expect(listed.code, listed.stderr).toBe(0);
  return (JSON.parse(listed.stdout) as Array<{ name: string; last: unknown }>).map(({ name, last }) => ({ name, last }));
}

/** Every event the journal keeps, as `events --json` prints them. */
async function eventLines(project: Project): Promise<string[]> {
  const printed = await project.cli(["events", "--json"]);
  expect(printed.code, printed.stderr).toBe(0);
  return printed.stdout.split("\n").filter((line) => line !== "");
}

/** The journal's counters, as `stats --format prometheus` prints them: each `_total` sample line. */
async function counterLines(project: Project, journal: string[] = []): Promise<string[]> {
  const printed = await project.cli(["stats", "--format", "prometheus", ...journal]);
  expect(printed.code, printed.stderr).toBe(0);
  return printed.stdout.split("\n").filter((line) => /^bgtask_tasks_\w+_total\{/.test(line));
}

describeOnJournals("the journal's state through compaction", () => {
  it("the counters go on from where they were", { timeout: 60_000 }, async () => {
    const p = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    for (let i = 0; i < 2; i++) expect((await p.cli(["run", "noop", "--follow"])).code).toBe(0);
    await forceCompaction(p);
    await forceCompaction(p);
    const lines = await counterLines(p);
    // Two that ran, and two that a worker still about may have run too: the compactions kept the first two's counts.
    expect(lines).toContain('bgtask_tasks_enqueued_total{executor="noop"} 4');
    const succeeded = Number(/status="succeeded"\} (\d+)/.exec(lines.join("\n"))?.[1]);
    expect(succeeded, lines.join("\n")).toBeGreaterThanOrEqual(2);
  });

  it("a paused queue stays paused", async () => {
    const p = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "hello.js": fixture("noop.js") } });
    expect((await p.cli(["pause", "hello"])).stdout).toContain("queue hello is paused");
    await forceCompaction(p);
    await forceCompaction(p);
    const listed = await p.cli(["pause"]);
    expect(listed.stdout).toContain("hello");
    expect(listed.stdout).not.toContain("no queue is paused");
    // Still honoured: a task of the paused queue is not claimed by a tick.
    const id = await p.run("hello", ["--no-worker"]);
    expect((await p.cli(["tick"])).code).toBe(0);
    expect((await p.status(id)).status).toBe("queued");
  });

  it("each schedule keeps its last slot, so a tick after the compaction fires no slot again", { timeout: 60_000 }, async () => {
    const p = useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js") },
      config: { worker: false, schedules: [{ name: "every2", cron: EVERY_2S, executor: "noop" }] },
    });
    await tickUntilFired(p);
    const before = await lastSlots(p);
    expect(before).toEqual([{ name: "every2", last: expect.objectContaining({ slot: expect.any(String) }) }]);
    await forceCompaction(p);
    // Compared only if no slot fell due meanwhile: the state may move on, never back to "never".
    const after = (await lastSlots(p)) as Array<{ last: { slot: string } | null }>;
    expect(after[0]!.last, "the schedule's state survived").not.toBeNull();
    expect(after[0]!.last!.slot >= (before as Array<{ last: { slot: string } }>)[0]!.last.slot).toBe(true);
    expect((await p.cli(["tick"])).code).toBe(0);
    const slots = scheduled(await p.list());
    expect(new Set(slots).size, `slots fired: ${slots.join(", ")}`).toBe(slots.length);
  });

  it("a 2-second schedule with a worker and ticks for 60 s while bulk enqueues force compactions: no slot fires twice", { timeout: 180_000 }, async () => {
    const p = useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js"), "beat.js": fixture("noop.js"), "slow.ts": fixture("slow.ts") },
      config: { concurrency: 2, schedules: [{ name: "every2", cron: EVERY_2S, executor: "beat" }] },
    });
    await p.run("slow", ["ms=300"]);
    await waitFor(() => p.workers().length >= 1, 20_000);
    // 2,000 contexts of ~200 bytes a batch: each batch passes the compaction threshold.
    const batch = join(p.dir, "batch.jsonl");
    writeFileSync(batch, `${Array.from({ length: 2_000 }, (_, i) => JSON.stringify({ i, pad: "p".repeat(200) })).join("\n")}\n`);
    const end = Date.now() + 60_000;
    const logs = new Set<string>();
    const ticking = (async () => {
      while (Date.now() < end) expect((await p.cli(["tick", "--max-time", "3s"])).code).toBe(0);
    })();
    while (Date.now() < end) {
      const bulk = await p.cli(["run", "noop", "--each", batch]);
      expect(bulk.code, bulk.stderr).toBe(0);
      if (p.journal === "file") logs.add(logName(p));
    }
    await ticking;
    if (p.journal === "file") expect(logs.size, "compactions happened during the run").toBeGreaterThan(3);
    const beats = await p.list(["--executor", "beat"]);
    const slots = scheduled(beats);
    expect(slots.length).toBeGreaterThanOrEqual(20);
    // A slot made twice: its tasks, as the journal has them, say who made them when.
    const twice = beats.filter((t) => slots.indexOf(t.schedule!.slot) !== slots.lastIndexOf(t.schedule!.slot));
    expect(new Set(slots).size, `slots fired: ${slots.join(", ")}; made twice: ${JSON.stringify(twice, null, 1)}`).toBe(slots.length);
  });
});

describe.skipIf(!process.env.BGTASK_TEST_PG)("the journal's state through doctor --repair and journal copy", () => {
  it(
    "a repaired file journal and copies file → PostgreSQL → file keep the paused queues, each schedule's last slot, the counters and the events",
    { timeout: 60_000 },
    async () => {
      const p = useProject(onTestFinished, {
        journal: "file",
        tasks: { "noop.js": fixture("noop.js") },
        config: { worker: false, schedules: [{ name: "every2", cron: EVERY_2S, executor: "noop" }] },
      });
      await tickUntilFired(p);
      expect((await p.cli(["pause", "noop"])).code).toBe(0);
      await forceCompaction(p);
      // One more task after the compaction: its events are in the log the repair replaces.
      expect((await p.cli(["run", "noop", "--no-worker"])).code).toBe(0);
      const slots = await lastSlots(p);
      const counters = await counterLines(p);
      // The schedule's tasks (one slot or two, as the tick found them due), the compaction's and the last one.
      const enqueued = Number(/^bgtask_tasks_enqueued_total\{executor="noop"\} (\d+)$/m.exec(counters.join("\n"))?.[1]);
      expect(enqueued, counters.join("\n")).toBeGreaterThanOrEqual(3);
      const events = await eventLines(p);
      expect(events.length).toBeGreaterThanOrEqual(4);
      // A damaged task line in journal.json: its checksum fails, and the repair rebuilds from what it can read.
      writeFileSync(p.journalPath, readFileSync(p.journalPath, "utf8").replace(/"blob":"x{10}/, '"blob":"yyyyyyyyyy'));
      expect((await p.cli(["list"])).code).toBe(3);
      const repaired = await p.cli(["doctor", "--repair", "--json"]);
      expect(repaired.code, repaired.stderr).toBeLessThanOrEqual(1);
      expect(JSON.parse(repaired.stdout)).toMatchObject({ repaired: true });
      expect(await lastSlots(p)).toEqual(slots);
      expect((await p.cli(["pause"])).stdout).toContain("noop");
      expect(await counterLines(p)).toEqual(counters);
      expect(await eventLines(p), "the events, the replaced log's too").toEqual(events);

      const url = process.env.BGTASK_TEST_PG!;
      const pg = `${url}${url.includes("?") ? "&" : "?"}schema=t_${randomBytes(6).toString("hex")}`;
      expect((await p.cli(["journal", "copy", "--from", ".bgtask", "--to", pg])).code).toBe(0);
      expect((await p.cli(["journal", "copy", "--from", pg, "--to", "back"])).code).toBe(0);
      for (const journal of [pg, "back"]) {
        expect(await lastSlots(p, ["--journal", journal])).toEqual(slots);
        expect((await p.cli(["pause", "--journal", journal])).stdout).toContain("noop");
        expect(await counterLines(p, ["--journal", journal])).toEqual(counters);
      }
    },
  );
});
