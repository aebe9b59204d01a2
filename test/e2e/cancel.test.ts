// `bgtask cancel`: at once for a waiting task; through task.signal for a cooperative one; by killing
// the worker after the grace period for one that busy-loops; the queue goes on after each.
import { expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { describeOnJournals, alive, useProject, waitFor } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";
import { runInPty } from "../helpers/pty.ts";

describeOnJournals("cancel", () => {
  it("stops a cooperative task at once and a busy-looping one after the grace period; the queue goes on", async () => {
    const project = useProject(onTestFinished, {
      config: { concurrency: 1 },
      env: { BGTASK_GRACE: "3s" },
      tasks: {
        "patient.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            retry: 3,
            run: (task) => new Promise((_, reject) => task.signal.addEventListener("abort", () => reject(new Error("stopped: " + task.signal.reason)))),
          });`,
        "busy.js": `
          import { defineTask } from "bgtask";
          export default defineTask({ retry: 3, run() { for (;;) {} } });`,
        "noop.js": fixture("noop.js"),
      },
    });
    const patient = await project.run("patient");
    const busy = await project.run("busy");
    const after = await project.run("noop");
    const waiting = await project.run("noop", ["--delay", "1h"]);

    const immediate = await project.cli(["cancel", waiting]);
    expect(immediate).toMatchObject({ code: 0, stdout: `${waiting} cancelled` });
    expect(await project.status(waiting)).toMatchObject({ status: "cancelled", tries: 0, completed: true });

    const first = await project.waitForTask(patient, (t) => t.status === "running");
    const asked = await project.cli(["cancel", patient, "--no-wait", "--json"]);
    expect(asked.code).toBe(0);
    const requestedAt = Date.parse((JSON.parse(asked.stdout) as TaskRecord).cancelRequestedAt!);
    // Stopped by its signal well within the grace period: not forced, its worker lives on.
    const stopped = await project.waitForTask(patient, (t) => t.completed);
    expect(stopped).toMatchObject({ status: "cancelled", tries: 1, message: "cancelled" });
    expect(Date.parse(stopped.finishedAt!) - requestedAt).toBeLessThan(3_000);
    expect(alive(first.worker!.pid)).toBe(true);

    const running = await project.waitForTask(busy, (t) => t.status === "running");
    const started = Date.now();
    const forced = await project.cli(["cancel", busy]);
    expect(forced).toMatchObject({ code: 0, stdout: `${busy} cancelled` });
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(await project.status(busy)).toMatchObject({ status: "cancelled", tries: 1, message: expect.stringMatching(/did not stop within 3s/) });
    await waitFor(
      () => !alive(running.worker!.pid),
      10_000,
      () => `busy worker ${running.worker!.pid} still alive`,
    );

    expect(await project.waitForTask(after, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 1 });
    // Cancelled tasks stay cancelled: nothing retried them.
    for (const id of [patient, busy]) expect((await project.status(id)).tries).toBe(1);

    const again = await project.cli(["cancel", after]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already ended \(succeeded\)/);
  });
});

describeOnJournals("cancel of a cooperative task that returns", () => {
  it("is recorded cancelled, not succeeded, and keeps the message and result it returned", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "loops.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              let rounds = 0;
              while (!task.signal.aborted) {
                rounds += 1;
                await task.progress(10, "looping");
                await new Promise((r) => setTimeout(r, 20));
              }
              return { message: "stopped after " + (rounds > 0 ? "some" : "no") + " rounds", result: { stoppedBy: task.signal.reason } };
            },
          });`,
      },
    });
    const id = await project.run("loops");
    await project.waitForTask(id, (t) => t.message === "looping");
    const cancelled = await project.cli(["cancel", id]);
    expect(cancelled).toMatchObject({ code: 0, stdout: `${id} cancelled` });
    expect(await project.status(id)).toMatchObject({
      status: "cancelled",
      completed: true,
      message: "stopped after some rounds",
      result: { stoppedBy: "cancelled" },
      history: [{ try: 1, status: "cancelled" }],
    });
  });
});

describeOnJournals("cancel at a terminal", () => {
  it("says on stderr that it asked the task to stop and when it forces it; a pipe gets only the result", async () => {
    const project = useProject(onTestFinished, {
      env: { BGTASK_GRACE: "2s" },
      tasks: { "busy.js": `import { defineTask } from "bgtask"; export default defineTask({ run() { for (;;) {} } });` },
    });
    const id = await project.run("busy");
    await project.waitForTask(id, (t) => t.status === "running");
    const pty = runInPty(project, ["cancel", id], onTestFinished);
    await pty.waitForOutput(new RegExp(`asked ${id} to stop; forcing in 2s\\r?\\n`));
    expect(await pty.exited).toBe(0);
    expect(pty.output()).toMatch(new RegExp(`asked ${id} to stop; forcing in 2s\\r?\\n${id} cancelled`));

    const second = await project.run("busy");
    await project.waitForTask(second, (t) => t.status === "running");
    expect(await project.cli(["cancel", second])).toMatchObject({ code: 0, stdout: `${second} cancelled`, stderr: "" });
  });
});

describeOnJournals("timeout", () => {
  it("ends a slow try and counts it as failed; one that ignores its signal is forced after the grace period", async () => {
    const project = useProject(onTestFinished, {
      config: { concurrency: 2 },
      env: { BGTASK_GRACE: "3s" },
      tasks: {
        "waits.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            timeout: "500ms",
            run: (task) => new Promise((_, reject) => task.signal.addEventListener("abort", () => reject(new Error("gave up: " + task.signal.reason)))),
          });`,
        "spins.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            timeout: "500ms",
            retry: 1,
            run(task) { if (task.tries === 1) for (;;) {} return { message: "try " + task.tries }; },
          });`,
      },
    });
    const waits = await project.run("waits");
    const spins = await project.run("spins");
    const timedOut = await project.waitForTask(waits, (t) => t.completed);
    expect(timedOut).toMatchObject({ status: "failed", tries: 1, error: { message: "timed out after 500ms" } });
    const forced = await project.waitForTask(spins, (t) => t.completed);
    expect(forced).toMatchObject({ status: "succeeded", tries: 2, message: "try 2" });
    expect(forced.history[0]!.error!.message).toMatch(/^timed out after 500ms \(it did not stop within 3s/);
  });
});
