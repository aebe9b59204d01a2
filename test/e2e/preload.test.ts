// The config's `preload` (issue 24): a module every worker imports before anything else, where a
// user starts an OpenTelemetry SDK. Imported once per process or thread that runs tries: a
// detached worker, a worker of `bgtask work`, a tick, and each sandbox (thread or process).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { docsOtelSetUp, startCollector } from "../helpers/otlp.ts";
import { BIN, useProject, waitFor } from "../helpers/project.ts";

/** Counts its imports in the thread that imported it, and notes each one with its process and thread. */
const PRELOAD = `
  import { appendFileSync } from "node:fs";
  import { threadId } from "node:worker_threads";
  globalThis.preloads = (globalThis.preloads ?? 0) + 1;
  appendFileSync(new URL("./preloads.txt", import.meta.url), process.pid + " " + threadId + "\\n");`;

/** An executor that says whether its thread imported the preload, and how many times. */
const seen = (isolation: string) => `
  import { threadId } from "node:worker_threads";
  import { defineTask } from "bgtask";
  export default defineTask({ isolation: "${isolation}", run() { return { result: { preloads: globalThis.preloads ?? 0, pid: process.pid, thread: threadId } }; } });`;

const tasks = { "inline.js": seen("inline"), "thread.js": seen("thread"), "process.js": seen("process") };

describe("preload", () => {
  it("a path in the config: a worker imports it before its code, once, and so does each sandbox and a tick", async () => {
    const project = useProject(onTestFinished, { tasks, config: { preload: "./otel.mjs" } });
    writeFileSync(join(project.dir, "otel.mjs"), PRELOAD);
    const ran: Record<string, { pid: number; thread: number }> = {};
    for (const name of ["inline", "thread", "process"]) {
      const id = await project.run(name);
      const task = await project.waitForTask(id, (t) => t.completed);
      expect(task, name).toMatchObject({ status: "succeeded", result: { preloads: 1 } });
      ran[name] = task.result as { pid: number; thread: number };
    }
    // The worker's line comes first: it imported the module before its own code ran a try; then a
    // line for the thread and one for the process, each where its try ran.
    const lines = readFileSync(join(project.dir, "preloads.txt"), "utf8").trim().split("\n");
    expect(lines[0]).toBe(`${ran.inline!.pid} 0`);
    expect(lines).toContain(`${ran.thread!.pid} ${ran.thread!.thread}`);
    expect(lines).toContain(`${ran.process!.pid} 0`);
    expect(ran.thread!.thread).toBeGreaterThan(0);
    // A tick runs tries in its own process: it imports the module first too.
    const ticked = await project.run("inline", ["--no-worker"]);
    const tick = await project.cli(["tick"]);
    expect(tick.code, tick.stderr).toBe(0);
    expect(await project.waitForTask(ticked, (t) => t.completed)).toMatchObject({ status: "succeeded", result: { preloads: 1 } });
  }, 60_000);

  it("a package name in BGTASK_PRELOAD, resolved from the project root, for `bgtask work` too", async () => {
    const project = useProject(onTestFinished, { tasks, env: { BGTASK_PRELOAD: "my-telemetry" } });
    const pkg = join(project.dir, "node_modules", "my-telemetry");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "my-telemetry", type: "module", exports: "./index.js" }));
    writeFileSync(join(pkg, "index.js"), PRELOAD);
    const ids = [await project.run("inline", ["--no-worker"]), await project.run("thread", ["--no-worker"])];
    const work = await project.cli(["work", "--once"]);
    expect(work.code, work.stderr).toBe(0);
    for (const id of ids) expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", result: { preloads: 1 } });
  }, 60_000);

  it("a path that does not exist: one sentence naming it, exit 2, nothing written; --json as an error object", async () => {
    const project = useProject(onTestFinished, { tasks, config: { preload: "./missing.mjs" } });
    const config = join(project.dir, "bgtask.config.json");
    const says = `${config}: \`preload\` names ${join(project.dir, "missing.mjs")}, which does not exist`;
    const text = await project.cli(["run", "inline"]);
    expect([text.code, text.stderr]).toEqual([2, `bgtask: ${says}`]);
    const json = await project.cli(["list", "--json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EUSAGE", message: says } });
    const env = await project.cli(["run", "inline"], { env: { BGTASK_PRELOAD: "./gone.mjs" } });
    expect(env.stderr).toBe(`bgtask: BGTASK_PRELOAD names ${join(project.dir, "gone.mjs")}, which does not exist`);
    expect(project.journalBytes()).toBeNull();
  });

  it("an OpenTelemetry SDK started there exports the spans of inline and thread tries to an OTLP endpoint, flushed before the worker leaves", async () => {
    const collector = await startCollector(onTestFinished);
    const traced = (isolation: string) => `
      import { trace } from "@opentelemetry/api";
      import { defineTask } from "bgtask";
      export default defineTask({ isolation: "${isolation}", run(task) {
        return trace.getTracer("mail").startActiveSpan("send " + task.context.to, (span) => { span.end(); return { result: span.spanContext().traceId }; });
      } });`;
    const project = useProject(onTestFinished, {
      tasks: { "mail.js": traced("inline"), "mail-thread.js": traced("thread") },
      config: { preload: "./otel.mjs" },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    // The docs' otel.mjs, as written there: its spans batched for 5 s (the SDK's default), more than a worker's idle wait.
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    const inline = await project.run("mail", ["to=a@example.com"]);
    const thread = await project.run("mail-thread", ["to=b@example.com"]);
    for (const id of [inline, thread])
      expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", result: expect.stringMatching(/^[0-9a-f]{32}$/) });
    await waitFor(
      () => ["send a@example.com", "send b@example.com"].every((name) => collector.spans().some((span) => span.name === name)),
      30_000,
      () => `both spans at the collector; it has ${collector.bodies.length} posts`,
    );
  }, 60_000);

  it("one that throws: `run --follow` says why its worker failed, from the worker log, and tries another, which runs the task once it is fixed", async () => {
    const project = useProject(onTestFinished, { tasks, config: { preload: "./otel.mjs" } });
    writeFileSync(
      join(project.dir, "otel.mjs"),
      `import { existsSync } from "node:fs";
       if (existsSync(new URL("./broken", import.meta.url))) throw new Error("the collector URL is missing");
       globalThis.preloads = (globalThis.preloads ?? 0) + 1;`,
    );
    writeFileSync(join(project.dir, "broken"), "");
    const follow = execa(process.execPath, [BIN, "run", "inline", "--follow"], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
    onTestFinished(() => void follow.kill("SIGKILL"));
    let said = "";
    follow.stderr!.on("data", (chunk: Buffer) => {
      said += chunk.toString("utf8");
    });
    await waitFor(
      () => said.includes("the collector URL is missing"),
      30_000,
      () => `run --follow never said why; it said: ${said}`,
    );
    expect(said).toMatch(
      /the worker started for these tasks \(pid \d+\) exited with code 1: Error: the collector URL is missing \(see .*worker\.log\); another is tried in 15s/,
    );
    rmSync(join(project.dir, "broken"));
    const result = await follow;
    expect(result.exitCode, said).toBe(0);
    expect((await project.list([]))[0]).toMatchObject({ status: "succeeded", tries: 1, result: { preloads: 1 } });
  }, 90_000);
});
