// bgtask where /proc cannot be read, as on macOS: every command and the workers it starts run in a
// mount namespace whose /proc is an empty tmpfs, so no start time proves who a pid is. A busy try
// is still stopped at its cancel's or timeout's grace (the worker kills itself and its group
// without that proof), and a killed worker's try is still recovered. Needs root (CI is).
import { expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { alive, canHideProc, describeOnJournals, useProject, waitFor } from "../helpers/project.ts";

const BUSY = `
  import { defineTask } from "bgtask";
  export default defineTask({ timeout: "1s", run() { for (;;) {} } });`;

describeOnJournals("without /proc (the macOS path)", () => {
  const project = () =>
    useProject(onTestFinished, {
      hideProc: true,
      env: { BGTASK_GRACE: "2s" },
      tasks: { "busy.js": BUSY, "spin.js": BUSY.replace('timeout: "1s", ', ""), "slow.ts": fixture("slow.ts"), "noop.js": fixture("noop.js") },
    });

  it.skipIf(!canHideProc())("a busy try is stopped at its cancel's grace: the worker is gone and the queue goes on", async () => {
    const p = project();
    const spin = await p.run("spin");
    const running = await p.waitForTask(spin, (t) => t.status === "running");
    const cancelled = await p.cli(["cancel", spin]);
    expect(cancelled, cancelled.stderr).toMatchObject({ code: 0, stdout: `${spin} cancelled` });
    await waitFor(
      () => !alive(running.worker!.pid),
      15_000,
      () => `the worker ${running.worker!.pid} of the cancelled try still runs`,
    );
    const next = await p.run("noop");
    expect(await p.waitForTask(next, (t) => t.completed)).toMatchObject({ status: "succeeded" });
  });

  it.skipIf(!canHideProc())("a busy try is stopped at its timeout's grace", async () => {
    const p = project();
    const busy = await p.run("busy");
    const running = await p.waitForTask(busy, (t) => t.status === "running");
    expect(await p.waitForTask(busy, (t) => t.completed, 20_000)).toMatchObject({ status: "failed", tries: 1 });
    await waitFor(
      () => !alive(running.worker!.pid),
      15_000,
      () => `the worker ${running.worker!.pid} of the timed-out try still runs`,
    );
  });

  it.skipIf(!canHideProc())("a SIGKILLed worker's try is recovered and runs again", async () => {
    const p = project();
    const slow = await p.run("slow", ["ms=60000", "--retry", "2x1s"]);
    const running = await p.waitForTask(slow, (t) => t.status === "running");
    process.kill(running.worker!.pid, "SIGKILL");
    await waitFor(() => !alive(running.worker!.pid), 10_000);
    // Ticks, as cron would, until the recovered task (retried after 1 s) is running its second try.
    await waitFor(async () => {
      const tick = await p.cli(["tick", "--max-time", "1s"]);
      expect(tick.code, tick.stderr).toBe(0);
      return (await p.status(slow)).tries >= 2;
    }, 30_000);
    const recovered = await p.status(slow);
    expect(recovered.tries).toBe(2);
    expect(recovered.history[0]).toMatchObject({
      try: 1,
      status: "failed",
      error: { message: expect.stringMatching(/the worker running this task died \(pid \d+/) },
    });
  });
});
