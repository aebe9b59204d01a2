// Retry policies end to end: tiers and their intervals, `bgtask retry`, try-until-success,
// UnrecoverableError and RetryAfter.
import { expect, it, onTestFinished } from "vitest";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, useProject } from "../helpers/project.ts";

describeOnJournals("retries", () => {
  it("tiers 2×1s then 1×2s: failed after exactly 4 tries spaced by the intervals; `retry` makes it 5", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "always.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            retry: [{ tries: 2, interval: "1s" }, { tries: 1, interval: "2s" }],
            run(task) { throw new Error("try " + task.tries + " failed"); },
          });`,
      },
    });
    const id = await project.run("always");
    const between = await project.waitForTask(id, (t) => t.status === "scheduled");
    expect(between).toMatchObject({ maxTries: 4, remainingTries: 4 - between.tries, completed: false });
    expect(between.nextRunAt).not.toBeNull();
    const refused = await project.cli(["retry", id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^bgtask: task \d+ cannot be retried: it is (already scheduled|running)/);

    const failed = await project.waitForTask(id, (t) => t.completed, 30_000);
    expect(failed).toMatchObject({ status: "failed", tries: 4, maxTries: 4, remainingTries: 0, error: { message: "try 4 failed" } });
    expect(failed.history.map((h) => [h.try, h.status, h.error?.message])).toEqual([
      [1, "failed", "try 1 failed"],
      [2, "failed", "try 2 failed"],
      [3, "failed", "try 3 failed"],
      [4, "failed", "try 4 failed"],
    ]);
    const intervals = [1000, 1000, 2000];
    intervals.forEach((interval, i) => {
      const gap = Date.parse(failed.history[i + 1]!.startedAt) - Date.parse(failed.history[i]!.finishedAt!);
      expect(gap).toBeGreaterThanOrEqual(interval);
    });
    const shown = await project.cli(["status", id]);
    for (let n = 1; n <= 4; n++) expect(shown.stdout).toContain(`try ${n}: try ${n} failed (tasks/always.js:`);

    const again = await project.cli(["retry", id]);
    expect(again).toMatchObject({ code: 0, stdout: id });
    const fifth = await project.waitForTask(id, (t) => t.completed && t.tries === 5);
    expect(fifth).toMatchObject({ status: "failed", tries: 5, maxTries: 5, remainingTries: 0 });
    expect(fifth.history).toHaveLength(5);
  });

  it("succeeds on try 3 after two failures; UnrecoverableError fails at once; RetryAfter sets the next interval", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "flaky.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            run(task) {
              if (task.tries < 3) throw new Error("not yet");
              return { message: "ok on try " + task.tries };
            },
          });`,
        "fatal.js": `
          import { defineTask, UnrecoverableError } from "bgtask";
          export default defineTask({ retry: 5, run() { throw new UnrecoverableError("the input is wrong"); } });`,
        "later.ts": `
          import { defineTask, RetryAfter } from "bgtask";
          export default defineTask({
            retry: { tries: 1, interval: "10m" },
            run(task) {
              if (task.tries === 1) throw new RetryAfter(300, "rate limited");
              return { message: "ok" };
            },
          });`,
      },
    });
    const flaky = await project.run("flaky", ["--retry", "3x100ms"]);
    const fatal = await project.run("fatal");
    const later = await project.run("later");
    expect(await project.waitForTask(flaky, (t) => t.completed)).toMatchObject({
      status: "succeeded",
      tries: 3,
      maxTries: 4,
      remainingTries: 1,
      message: "ok on try 3",
      error: null,
    });
    expect(await project.waitForTask(fatal, (t) => t.completed)).toMatchObject({
      status: "failed",
      tries: 1,
      maxTries: 6,
      remainingTries: 0,
      error: { message: "the input is wrong" },
    });
    const done = await project.waitForTask(later, (t) => t.completed);
    expect(done).toMatchObject({ status: "succeeded", tries: 2 });
    expect(Date.parse(done.history[1]!.startedAt) - Date.parse(done.history[0]!.finishedAt!)).toBeLessThan(60_000);
  });

  it("a running try shows no message or error of the try before it; history keeps them", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "second.js": `
          import { existsSync } from "node:fs";
          import { defineTask } from "bgtask";
          export default defineTask({
            retry: { tries: 1, interval: "0s" },
            async run(task) {
              if (task.tries === 1) throw new Error("connection refused on try 1");
              while (!existsSync(task.context.gate)) await new Promise((r) => setTimeout(r, 20));
              return { message: "ok on try 2" };
            },
          });`,
      },
    });
    const gate = join(project.dir, "gate");
    const id = await project.run("second", [`gate=${JSON.stringify(gate)}`]);
    const running = await project.waitForTask(id, (t) => t.status === "running" && t.tries === 2);
    expect(running).toMatchObject({ message: null, error: null });
    expect(running.history[0]).toMatchObject({ try: 1, status: "failed", error: { message: "connection refused on try 1" } });
    const listed = await project.cli(["list"]);
    expect(listed.stdout).not.toContain("connection refused");
    writeFileSync(gate, "");
    expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", message: "ok on try 2" });
  });

  it("`retry` of a keyed task refuses while another task of its key is not final, and of two final ones at once changes neither", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const first = await project.run("noop", ["--key", "k", "--no-worker"]);
    expect((await project.cli(["cancel", first])).code).toBe(0);
    const second = await project.run("noop", ["--key", "k", "--no-worker"]);
    expect(second).not.toBe(first);

    const refused = await project.cli(["retry", first, "--no-worker"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `bgtask: task ${first} cannot be retried: task ${second} of noop with the same key k is queued, and a key has one task at a time that is not final`,
    );
    const asJson = await project.cli(["retry", first, "--no-worker", "--json"]);
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.stdout).error.code).toBe("EKEYHELD");

    expect((await project.cli(["cancel", second])).code).toBe(0);
    const both = await project.cli(["retry", second, first, "--no-worker"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(`task ${first} cannot be retried: task ${second} of noop with the same key k would be queued again with it`);
    expect(both.stderr).toContain("none of the 2 tasks was changed");
    expect([(await project.status(first)).status, (await project.status(second)).status]).toEqual(["cancelled", "cancelled"]);

    expect((await project.cli(["retry", second])).code).toBe(0);
    expect(await project.waitForTask(second, (t) => t.completed)).toMatchObject({ status: "succeeded" });
    expect(await project.run("noop", ["--key", "k", "--no-worker"])).not.toBe(second);
  });
});
