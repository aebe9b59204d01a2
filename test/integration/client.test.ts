// `bgtask/client` in this very process, as the user's own code uses it: the built client
// (dist/client, what the package exports) over a temp project, with real detached workers.
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { BgtaskError, createClient, UsageError, WaitTimeoutError } from "../../dist/client/index.js";
import { fixture } from "../helpers/fixtures.ts";
import { useProject } from "../helpers/project.ts";

// Runs until it is cancelled, through its signal.
const COOPERATIVE = `
  import { defineTask } from "bgtask";
  export default defineTask({
    run: (task) => new Promise((_, reject) => task.signal.addEventListener("abort", () => reject(new Error("stopped: " + task.signal.reason)))),
  });`;

// Enqueues a follow-up task through the client, from inside the worker running it.
const PARENT = `
  import { defineTask } from "bgtask";
  import { createClient } from "bgtask/client";
  export default defineTask({
    async run(task) {
      const bg = createClient();
      const child = await bg.run("noop", { from: task.id });
      await bg.close();
      return { message: "enqueued " + child.id, result: { child: child.id } };
    },
  });`;

describe("bgtask/client", () => {
  it("enqueues a task and waits for it, watches one until it runs and cancels it, with a real worker", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "waits.js": COOPERATIVE } });
    const bg = createClient({ root: project.dir });
    onTestFinished(() => bg.close());
    expect(bg.project).toMatchObject({ root: project.dir, home: project.home });

    const task = await bg.run("noop", { n: 1 });
    expect(task).toMatchObject({ executor: "noop", status: "queued", context: { n: 1 } });
    expect(task).not.toHaveProperty("lease");
    const done = await bg.wait(task.id, { timeout: "30s" });
    expect(done).toMatchObject({ id: task.id, status: "succeeded", completed: true, message: "nothing done" });
    // The same record as `bgtask status --json`.
    expect(await bg.get(task.id)).toEqual(await project.status(task.id));

    const waits = await bg.run("waits");
    const seen: string[] = [];
    for await (const record of bg.watch(waits.id)) {
      seen.push(record.status);
      if (record.status === "running") break;
    }
    expect(seen.at(-1)).toBe("running");
    const cancelled = await bg.cancel(waits.id);
    expect(cancelled).toMatchObject({ id: waits.id, status: "cancelled", completed: true, tries: 1 });
    expect(await bg.wait(waits.id)).toMatchObject({ status: "cancelled" });
    expect((await bg.list({ status: "cancelled" })).map((t) => t.id)).toEqual([waits.id]);
    expect((await bg.list({ executor: "noop" })).map((t) => t.id)).toEqual([task.id]);
  });

  it("takes the queue controls as options: priority, key, replace, after; pauses and resumes queues; bulk retry and cancel", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const bg = createClient({ root: project.dir });
    onTestFinished(() => bg.close());
    expect(await bg.pause("noop")).toEqual(["noop"]);
    const first = await bg.run("noop", { n: 1 }, { key: "k", priority: 2 });
    expect(first).toMatchObject({ priority: 2, key: "k", deduplicated: false });
    const again = await bg.run("noop", { n: 2 }, { key: "k", replace: true });
    expect(again).toMatchObject({ id: first.id, context: { n: 2 }, deduplicated: true, replaced: true });
    const after = await bg.run("noop", {}, { after: [first.id] });
    expect(after).toMatchObject({ status: "queued", waitingFor: [first.id] });
    expect(await bg.pausedQueues()).toEqual(["noop"]);
    await expect(bg.run("noop", {}, { priority: -1 })).rejects.toThrow(/priority -1 is not a whole number of 0 or more/);
    await expect(bg.run("noop", {}, { replace: true })).rejects.toThrow(/replace goes with key/);
    await expect(bg.run("noop", {}, { after: "99" })).rejects.toMatchObject({ code: "ENOTASK" });
    await expect(bg.pause("nope")).rejects.toBeInstanceOf(UsageError);
    expect(await bg.resume({ all: true })).toEqual([]);
    expect((await bg.wait([first.id, after.id], { timeout: "30s" })).map((t) => t.status)).toEqual(["succeeded", "succeeded"]);
    expect(await bg.retryFailed()).toEqual([]);
    await bg.pause("noop");
    const waiting = await bg.run("noop");
    expect((await bg.cancelQueued({ executor: "noop" })).map((t) => [t.id, t.status])).toEqual([[waiting.id, "cancelled"]]);
  });

  it("throws BgtaskError subclasses with the codes of the CLI's --json errors, and changes nothing then", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const bg = createClient({ root: project.dir });
    onTestFinished(() => bg.close());
    await expect(bg.get("abc")).rejects.toMatchObject({ name: "UsageError", code: "EBADID", exitCode: 2 });
    await expect(bg.run("missing")).rejects.toMatchObject({ code: "ENOEXECUTOR" });
    await expect(bg.run("noop", {}, { delay: "10" })).rejects.toThrow('delay "10" has no unit');
    await expect(bg.run("noop", { when: 1n } as unknown as Record<string, unknown>)).rejects.toThrow(/the context cannot be stored as JSON/);
    await expect(bg.runEach("noop", [{}, []] as unknown as Record<string, unknown>[])).rejects.toThrow("context 2 must be a JSON object");
    await expect(bg.list({ status: "done" as "succeeded" })).rejects.toThrow('status "done" is not a status');
    expect(await bg.list()).toEqual([]);

    const later = await bg.run("noop", {}, { delay: "1h", retry: "2x1s" });
    expect(later).toMatchObject({ status: "scheduled", maxTries: 3 });
    const timedOut = await bg.wait(later.id, { timeout: 200 }).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(WaitTimeoutError);
    expect(timedOut).toBeInstanceOf(BgtaskError);
    expect(timedOut).toMatchObject({ code: "ETIMEOUT", exitCode: 124, pending: [later.id] });
    expect(await bg.cancel(later.id)).toMatchObject({ status: "cancelled" });
    const again = await bg.cancel(later.id).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(UsageError);
    expect(again).toMatchObject({ code: "EFINAL" });
    expect(await bg.remove(later.id)).toEqual([later.id]);
    expect(await bg.get(later.id)).toBeNull();

    await bg.close();
    await expect(bg.list()).rejects.toMatchObject({ code: "ECLOSED" });
  });

  it("ticks in this process: runs what is due within the budget, and a second tick at the same time does nothing", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "waits.js": COOPERATIVE }, config: { worker: false } });
    // A stopped tick lets the running try finish for the grace period before its signal is aborted.
    vi.stubEnv("BGTASK_GRACE", "500ms");
    onTestFinished(() => void vi.unstubAllEnvs());
    const bg = createClient({ root: project.dir });
    onTestFinished(() => bg.close());
    const [a, b] = await bg.runEach("noop", [{ n: 1 }, { n: 2 }]);
    expect(project.workers()).toEqual([]);
    expect(await bg.tick({ maxTime: "20s" })).toEqual({ heldBy: null, notRun: [] });
    for (const task of [a!, b!]) expect(await bg.get(task.id)).toMatchObject({ status: "succeeded", tries: 1 });

    // A tick that runs until it is stopped holds the mutex meanwhile.
    const waits = await bg.run("waits");
    const stop = new AbortController();
    const first = bg.tick({ maxTime: "30s", signal: stop.signal });
    for await (const record of bg.watch(waits.id)) if (record.status === "running") break;
    expect(await bg.tick({ maxTime: "5s" })).toMatchObject({ heldBy: { pid: process.pid, since: expect.any(String) }, notRun: [] });
    stop.abort("test over");
    await first;
    expect(await bg.get(waits.id)).not.toMatchObject({ status: "running" });
    await expect(bg.tick({ maxTime: 0 })).rejects.toMatchObject({ code: "EUSAGE" });
  });

  it("works inside an executor: a task enqueues a follow-up task, which a worker runs", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "parent.js": PARENT, "parent-ts.ts": PARENT } });
    const bg = createClient({ root: project.dir });
    onTestFinished(() => bg.close());
    for (const executor of ["parent", "parent-ts"]) {
      const parent = await bg.run(executor);
      const done = await bg.wait(parent.id, { timeout: "30s" });
      expect(done, executor).toMatchObject({ status: "succeeded", message: expect.stringMatching(/^enqueued \d+$/) });
      const child = (done.result as { child: string }).child;
      expect(await bg.wait(child, { timeout: "30s" }), executor).toMatchObject({ executor: "noop", status: "succeeded", context: { from: parent.id } });
    }
  });
});
