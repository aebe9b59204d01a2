// Recurring schedules through the built binary: real detached workers, real ticks, a real SIGKILL.
// Each slot makes one task, whoever fires at the same time; after downtime missed slots are
// skipped, or run once each within catchUp. The tasks' recorded slots are compared with the slots
// croner lists for the same window.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Cron } from "croner";
import { expect, it, onTestFinished } from "vitest";
import { createClient } from "../../dist/client/index.js";
import { fixture } from "../helpers/fixtures.ts";
import { EVERY_2S, scheduled } from "../helpers/schedules.ts";
import { describeOnJournals, useProject, waitFor, type Project } from "../helpers/project.ts";

/** Every slot croner lists from `first` to `last`, both included. */
function slotsBetween(cron: string, first: string, last: string): string[] {
  const pattern = new Cron(cron, { paused: true });
  const slots = [first];
  for (let next = pattern.nextRun(new Date(first)); next && next.getTime() <= Date.parse(last); next = pattern.nextRun(next)) slots.push(next.toISOString());
  return slots;
}

/** Runs `bgtask tick` back to back until `until` (epoch ms), as cron jobs overlapping the workers would. */
async function tickUntil(project: Project, until: number): Promise<void> {
  while (Date.now() < until) {
    const tick = await project.cli(["tick", "--max-time", "3s"]);
    expect(tick.code, tick.stderr).toBe(0);
  }
}

async function expectEverySlotOnce(project: Project, killMidway: boolean): Promise<void> {
  // Two tasks start two detached workers; once their tasks end, both stay for the schedule.
  await project.run("slow", ["ms=300"]);
  await project.run("slow", ["ms=300"]);
  await waitFor(
    () => project.workers().length === 2,
    20_000,
    () => `workers: ${project.workers().join(",")}`,
  );
  const start = Date.now();
  const ticking = tickUntil(project, start + 20_000);
  if (killMidway) {
    await waitFor(() => Date.now() >= start + 10_000, 15_000);
    const [victim] = project.workers();
    process.kill(victim!, "SIGKILL");
  }
  await ticking;
  const end = new Date(Date.now()).toISOString();
  // The last slot before the end is fired by someone (a tick, or a worker still up).
  await waitFor(
    async () => scheduled(await project.list()).some((slot) => slot >= new Date(Date.parse(end) - 2_000).toISOString()),
    20_000,
    () => "no slot fired near the end",
  );
  const slots = scheduled(await project.list());
  expect(new Set(slots).size, "no slot fired twice").toBe(slots.length);
  expect(slots, "no slot missed between the first and the last").toEqual(slotsBetween(EVERY_2S, slots[0]!, slots.at(-1)!));
  expect(slots.length).toBeGreaterThanOrEqual(10);
}

describeOnJournals("schedules: each slot fires exactly once", () => {
  const options = {
    tasks: { "noop.js": fixture("noop.js"), "slow.ts": fixture("slow.ts") },
    config: { concurrency: 2, schedules: [{ name: "every2", cron: EVERY_2S, executor: "noop" }] },
  };

  it("a 2-second schedule with 2 workers and ticks running at once for 20 s: no duplicates, no gaps", { timeout: 90_000 }, async () => {
    await expectEverySlotOnce(useProject(onTestFinished, options), false);
  });

  it("the same when one worker is SIGKILLed midway", { timeout: 90_000 }, async () => {
    await expectEverySlotOnce(useProject(onTestFinished, options), true);
  });
});

describeOnJournals("schedules after downtime", () => {
  // Cron-only (no workers), and an on-time window of 1 s, so a few seconds without a tick are downtime.
  const project = (catchUp?: string) =>
    useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js") },
      config: { worker: false, schedules: [{ name: "every2", cron: EVERY_2S, executor: "noop", ...(catchUp ? { catchUp } : {}) }] },
      env: { BGTASK_SCHEDULE_ON_TIME: "1s" },
    });

  /** Fires, then lets 9 s pass with nothing running; returns the last slot fired before, how many, and when the next tick began. */
  async function downtime(p: Project): Promise<{ first: string; resumedAt: number; before: number }> {
    // Ticks back to back until one fires (each must start within the 1 s on-time window of a slot).
    await waitFor(async () => {
      expect((await p.cli(["tick"])).code).toBe(0);
      return scheduled(await p.list()).length >= 1;
    }, 60_000);
    const fired = scheduled(await p.list());
    const first = fired.at(-1);
    await waitFor(() => Date.now() >= Date.parse(first!) + 9_000, 20_000);
    const resumedAt = Date.now();
    expect((await p.cli(["tick"])).code).toBe(0);
    return { first: first!, resumedAt, before: fired.length };
  }

  it("without catchUp the missed slots are skipped: only a slot within the on-time window fires", { timeout: 60_000 }, async () => {
    const p = project();
    const { first, resumedAt, before } = await downtime(p);
    const later = scheduled(await p.list()).slice(before);
    expect(later.length).toBeLessThanOrEqual(1);
    for (const slot of later) expect(Date.parse(slot)).toBeGreaterThanOrEqual(resumedAt - 1_000);
    const schedules = JSON.parse((await p.cli(["schedules", "--json"])).stdout) as Array<{ last: { slot: string } | null }>;
    expect(schedules[0]!.last!.slot).toBe(later.at(-1) ?? first);
  });

  it('with catchUp "5s" the missed slots of the last 5 s run, once each', { timeout: 60_000 }, async () => {
    const p = project("5s");
    const { first, resumedAt, before } = await downtime(p);
    const later = scheduled(await p.list()).slice(before);
    // The slots of the 5 s before the tick (and up to its start), every one, none older.
    expect(later.length).toBeGreaterThanOrEqual(2);
    expect(later).toEqual(slotsBetween(EVERY_2S, later[0]!, later.at(-1)!));
    expect(Date.parse(later[0]!)).toBeGreaterThanOrEqual(resumedAt - 5_000 - 1);
    expect(Date.parse(later[0]!)).toBeGreaterThan(Date.parse(first) + 2_000);
    // Another tick at once runs none of them again.
    expect((await p.cli(["tick"])).code).toBe(0);
    const again = scheduled(await p.list());
    expect(new Set(again).size).toBe(again.length);
  });
});

describeOnJournals("bgtask schedules and the records of scheduled tasks", () => {
  it("lists each schedule with its last slot, task and next run; the task records its schedule and slot", { timeout: 60_000 }, async () => {
    const p = useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js") },
      config: {
        worker: false,
        schedules: [
          { name: "every2", cron: EVERY_2S, executor: "noop", context: { kind: "fast" } },
          { name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", executor: "noop", catchUp: "1h" },
        ],
      },
    });
    const before = JSON.parse((await p.cli(["schedules", "--json"])).stdout) as Array<Record<string, unknown>>;
    expect(before).toHaveLength(2);
    expect(before[1]).toMatchObject({ name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", executor: "noop", catchUpMs: 3_600_000, last: null });
    // 03:00 in Berlin is 01:00 or 02:00 UTC, depending on the season.
    expect(before[1]!.nextRunAt).toMatch(/T0[12]:00:00\.000Z$/);
    await waitFor(async () => {
      await p.cli(["tick"]);
      return scheduled(await p.list()).length > 0;
    }, 20_000);
    const fired = (await p.list()).filter((t) => t.schedule).sort((a, b) => Number(a.id) - Number(b.id));
    const [task] = fired;
    expect(task).toMatchObject({ executor: "noop", context: { kind: "fast" }, schedule: { name: "every2" }, status: "succeeded" });
    // A tick slowed past 2 s (npm run stress) fires the next slot too: the last slot is the newest task's.
    const newest = fired.at(-1)!;
    const after = JSON.parse((await p.cli(["schedules", "--json"])).stdout) as Array<{ last: { slot: string; taskId: string } | null }>;
    expect(after[0]!.last).toEqual({ slot: newest.schedule!.slot, taskId: newest.id });
    const table = await p.cli(["schedules"]);
    expect(table.stdout).toMatch(/^NAME\s+CRON\s+TIMEZONE\s+EXECUTOR\s+LAST\s+TASK\s+NEXT/);
    expect(table.stdout).toContain("Europe/Berlin");
    const status = await p.cli(["status", task!.id]);
    expect(status.stdout).toContain(`every2, slot ${task!.schedule!.slot}`);
    // bgtask/client's schedules() is the same view.
    const bg = createClient(p.clientFlags);
    onTestFinished(() => bg.close());
    expect((await bg.schedules())[0]!.last).toEqual(after[0]!.last);
    // A task not made by a schedule says so with null.
    const plain = await p.run("noop", ["--no-worker"]);
    expect((await p.status(plain)).schedule).toBeNull();
  });

  it("a worker stays up while a schedule is due soon, and fires it", { timeout: 60_000 }, async () => {
    const p = useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js") },
      config: { schedules: [{ name: "every2", cron: EVERY_2S, executor: "noop" }] },
    });
    // One task starts a worker; BGTASK_IDLE is 500ms, yet it stays for the schedule and fires slot after slot.
    await p.run("noop");
    await waitFor(async () => scheduled(await p.list()).length >= 3, 30_000);
    expect(p.workers()).toHaveLength(1);
    // It rereads the schedules when the config changes: with the schedule gone, nothing keeps it.
    writeFileSync(join(p.dir, "bgtask.config.json"), JSON.stringify({}));
    await waitFor(
      () => p.workers().length === 0,
      30_000,
      () => `workers still up: ${p.workers().join(",")}`,
    );
    const fired = scheduled(await p.list()).length;
    expect((await p.cli(["schedules", "--json"])).stdout.trim()).toBe("[]");
    expect(scheduled(await p.list())).toHaveLength(fired);
  });
});
