// bgtask's own OpenTelemetry spans and metrics (issue 24): an app enqueues from inside a span of its
// own through bgtask/client; the `send` span is its child, each try's `process` span continues that
// trace in the worker (a retry too), and the executor's spans are the try's children, inline and in
// a thread. Exported by the docs' otel.mjs (the preload) to a stand-in OTLP collector.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { docsOtelSetUp, KIND, type Span, startCollector } from "../helpers/otlp.ts";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";
import { EVERY_2S } from "../helpers/schedules.ts";

/** Fails its first try, succeeds on its second; a span of its own in each. */
const flaky = (isolation: string) => `
  import { trace } from "@opentelemetry/api";
  import { defineTask } from "bgtask";
  export default defineTask({
    isolation: "${isolation}",
    retry: { tries: 2, interval: "100ms" },
    run: (task) => trace.getTracer("app").startActiveSpan("work", (span) => {
      span.setAttribute("try", task.tries);
      span.end();
      if (task.tries === 1) throw new TypeError("the first try fails");
      return { result: "ok" };
    }),
  });`;

/** The app: enqueues one task of each executor from inside its own span, then flushes its SDK. */
const APP = `
  import "./otel.mjs";
  import { metrics, trace } from "@opentelemetry/api";
  import { createClient } from "bgtask/client";
  const bg = createClient();
  const out = await trace.getTracer("app").startActiveSpan("signup", async (span) => {
    const ids = [(await bg.run("flaky")).id, (await bg.run("flaky-thread")).id];
    span.end();
    return { ids, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
  });
  await bg.close();
  await trace.getTracerProvider().getDelegate().forceFlush();
  await metrics.getMeterProvider().forceFlush();
  console.log(JSON.stringify(out));`;

/** Fails its first try, with no retry of its own: a retry is the app's. */
const ONCE = `
  import { defineTask } from "bgtask";
  export default defineTask({ run: (task) => { if (task.tries === 1) throw new Error("the first try fails"); return {}; } });`;

/** The app: enqueues a task, waits for it to fail, retries it from inside another span of its own, waits for it to succeed. */
const RETRYING_APP = `
  import "./otel.mjs";
  import { trace } from "@opentelemetry/api";
  import { createClient } from "bgtask/client";
  const bg = createClient();
  const tracer = trace.getTracer("app");
  const { id } = await tracer.startActiveSpan("signup", async (span) => { const task = await bg.run("once"); span.end(); return task; });
  await bg.wait(id, { timeout: "30s" }).catch(() => undefined);
  const again = await tracer.startActiveSpan("support", async (span) => { await bg.retry(id); span.end(); return span.spanContext().traceId; });
  await bg.wait(id, { timeout: "30s" });
  await bg.close();
  await trace.getTracerProvider().getDelegate().forceFlush();
  console.log(JSON.stringify({ id, again }));`;

describeOnJournals("OpenTelemetry", () => {
  it("the enqueuing span's trace goes on in each try's process span, through a retry, with the messaging attributes and metrics", async () => {
    const collector = await startCollector(onTestFinished);
    const project = useProject(onTestFinished, {
      tasks: { "flaky.js": flaky("inline"), "flaky-thread.js": flaky("thread") },
      config: { preload: "./otel.mjs" },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    writeFileSync(join(project.dir, "app.mjs"), APP);
    const app = await execa(process.execPath, ["app.mjs"], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
    expect(app.exitCode, app.stderr).toBe(0);
    const { ids, traceId, spanId } = JSON.parse(app.stdout) as { ids: string[]; traceId: string; spanId: string };
    for (const id of ids) expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 2 });

    const named = (name: string) => collector.spans().filter((span) => span.name === name);
    await waitFor(
      () => named("process flaky").length === 2 && named("process flaky-thread").length === 2 && named("work").length === 4,
      30_000,
      () => `every try's spans at the collector; it has ${collector.spans().map((s) => s.name)}`,
    );
    ids.forEach((id, i) => {
      const executor = ["flaky", "flaky-thread"][i]!;
      const [send, ...more] = named(`send ${executor}`);
      expect(more).toEqual([]);
      expect(send).toMatchObject({
        traceId,
        parentSpanId: spanId,
        kind: KIND.producer,
        attributes: {
          "messaging.system": "bgtask",
          "messaging.operation.type": "send",
          "messaging.destination.name": executor,
          "messaging.message.id": id,
        },
      });
      const tries = named(`process ${executor}`).sort((a, b) => Number(a.attributes["bgtask.try"]) - Number(b.attributes["bgtask.try"]));
      expect(tries.map((span) => [span.traceId, span.parentSpanId, span.kind, span.attributes["bgtask.try"], span.attributes["bgtask.outcome"]])).toEqual([
        [traceId, send!.spanId, KIND.consumer, 1, "failed"],
        [traceId, send!.spanId, KIND.consumer, 2, "succeeded"],
      ]);
      expect(tries[0]).toMatchObject({
        status: { code: 2, message: "the first try fails" },
        attributes: { "messaging.system": "bgtask", "messaging.operation.type": "process", "messaging.message.id": id, "error.type": "TypeError" },
      });
      // The executor's own span, in the worker or in its thread, is its try's child.
      const work = (span: Span) => named("work").find((w) => w.parentSpanId === span.spanId);
      expect(tries.map((span) => work(span)?.attributes.try)).toEqual([1, 2]);
    });

    // The app counted what it sent; the workers, each try started and how long it ran. A worker
    // exports them as it leaves, idle: each worker's, once.
    const total = (metric: string, executor: string, extra: Record<string, string> = {}) =>
      collector
        .points()
        .filter(
          (p) =>
            p.metric === metric && p.attributes["messaging.destination.name"] === executor && Object.entries(extra).every(([k, v]) => p.attributes[k] === v),
        )
        .reduce((sum, p) => sum + p.value, 0);
    await waitFor(
      () => ["flaky", "flaky-thread"].every((executor) => total("messaging.process.duration", executor) >= 2),
      30_000,
      () => `the workers' metrics at the collector: ${JSON.stringify(collector.points())}`,
    );
    for (const executor of ["flaky", "flaky-thread"]) {
      expect(total("messaging.client.sent.messages", executor), executor).toBe(1);
      expect(total("messaging.client.consumed.messages", executor), executor).toBe(2);
      expect(total("messaging.process.duration", executor, { "error.type": "TypeError" }), executor).toBe(1);
      expect(total("messaging.process.duration", executor), executor).toBe(2);
    }
  }, 90_000);

  it("each worker reports the queues as gauges per executor: tasks queued, and how long the oldest has waited", async () => {
    const collector = await startCollector(onTestFinished);
    const project = useProject(onTestFinished, {
      tasks: { "flaky.js": flaky("inline"), "held.js": flaky("inline") },
      config: { preload: "./otel.mjs" },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    // Two tasks wait in a paused queue, which is no work for a worker: it runs the other and leaves, exporting as it goes.
    expect((await project.cli(["pause", "held"])).code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await project.cli(["run", "held", "--no-worker"])).code).toBe(0);
    const startedAt = Date.now();
    const id = await project.run("flaky");
    expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded" });
    const last = (metric: string, executor: string) =>
      collector
        .points()
        .filter((p) => p.metric === metric && p.attributes["messaging.destination.name"] === executor)
        .at(-1);
    await waitFor(
      () => last("bgtask.queue.depth", "held") !== undefined,
      30_000,
      () => `the worker's gauges at the collector: ${JSON.stringify(collector.points())}`,
    );
    expect(last("bgtask.queue.depth", "held")).toMatchObject({ value: 2, attributes: { "messaging.system": "bgtask" } });
    expect(last("bgtask.queue.depth", "flaky")!.value).toBe(0);
    // The held tasks were made before the worker's task: at least as long ago as that.
    expect(last("bgtask.queue.oldest_age", "held")!.value).toBeGreaterThan(0);
    expect(last("bgtask.queue.oldest_age", "held")!.value).toBeLessThan((Date.now() - startedAt) / 1000 + 60);
    expect(last("bgtask.queue.oldest_age", "flaky")!.value).toBe(0);
  }, 90_000);

  it("a schedule's slot is sent in a span of its own, which each try of the task it made continues", async () => {
    const collector = await startCollector(onTestFinished);
    const project = useProject(onTestFinished, {
      tasks: { "flaky.js": flaky("inline"), "noop.js": fixture("noop.js") },
      config: { preload: "./otel.mjs", schedules: [{ name: "every2", cron: EVERY_2S, executor: "flaky" }] },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    // A task starts a worker, which stays up for the schedule and fires its slots.
    await project.run("noop");
    let fired: TaskRecord | undefined;
    await waitFor(async () => {
      fired = (await project.list(["--executor", "flaky"])).find((t) => t.schedule && t.status === "succeeded");
      return fired !== undefined;
    }, 30_000);
    // With the schedule gone the worker leaves, exporting what it holds.
    writeFileSync(join(project.dir, "bgtask.config.json"), JSON.stringify({ preload: "./otel.mjs" }));
    const send = () => collector.spans().find((span) => span.name === "send flaky" && span.attributes["messaging.message.id"] === fired!.id);
    const tries = () => collector.spans().filter((span) => span.name === "process flaky" && span.attributes["messaging.message.id"] === fired!.id);
    await waitFor(
      () => send() !== undefined && tries().length === 2,
      30_000,
      () => `the slot's spans at the collector: ${collector.spans().map((s) => `${s.name} ${s.attributes["messaging.message.id"]}`)}`,
    );
    expect(send()).toMatchObject({ kind: KIND.producer, attributes: { "messaging.system": "bgtask", "messaging.destination.name": "flaky" } });
    expect(tries().map((span) => [span.traceId, span.parentSpanId])).toEqual([
      [send()!.traceId, send()!.spanId],
      [send()!.traceId, send()!.spanId],
    ]);
    // Only slots that made a task have a span: one per task the schedule made.
    const made = (await project.list(["--executor", "flaky"])).filter((t) => t.schedule).map((t) => t.id);
    const sends = collector.spans().filter((span) => span.name === "send flaky");
    expect(sends.every((span) => made.includes(String(span.attributes["messaging.message.id"])))).toBe(true);
  }, 90_000);

  it("a retry from the app is sent in a span of the app's trace; the task's tries stay in the trace it was first sent in", async () => {
    const collector = await startCollector(onTestFinished);
    const project = useProject(onTestFinished, {
      tasks: { "once.js": ONCE },
      config: { preload: "./otel.mjs" },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    writeFileSync(join(project.dir, "app.mjs"), RETRYING_APP);
    const app = await execa(process.execPath, ["app.mjs"], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
    expect(app.exitCode, app.stderr).toBe(0);
    const { id, again } = JSON.parse(app.stdout) as { id: string; again: string };
    const spans = (name: string) => collector.spans().filter((span) => span.name === name && span.attributes["messaging.message.id"] === id);
    await waitFor(
      () => spans("send once").length === 2 && spans("process once").length === 2,
      30_000,
      () => `the spans at the collector: ${collector.spans().map((s) => `${s.name} ${s.attributes["messaging.message.id"]}`)}`,
    );
    const retry = spans("send once").find((span) => span.traceId === again);
    const first = spans("send once").find((span) => span.traceId !== again);
    expect(retry).toMatchObject({ kind: KIND.producer, attributes: { "messaging.destination.name": "once" } });
    expect(spans("process once").map((span) => [span.traceId, span.parentSpanId])).toEqual([
      [first!.traceId, first!.spanId],
      [first!.traceId, first!.spanId],
    ]);
  }, 90_000);

  it("a shell's TRACEPARENT is stored with the task its `bgtask run` makes, and the tries continue it; a malformed one is passed over", async () => {
    const collector = await startCollector(onTestFinished);
    const project = useProject(onTestFinished, {
      tasks: { "flaky.js": flaky("inline") },
      config: { preload: "./otel.mjs" },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url },
    });
    writeFileSync(join(project.dir, "otel.mjs"), docsOtelSetUp(project.dir));
    const [traceId, parent] = ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"];
    const traced = await project.cli(["run", "flaky"], { env: { TRACEPARENT: `00-${traceId}-${parent}-01`, TRACESTATE: "vendor=1" } });
    const plain = await project.cli(["run", "flaky"], { env: { TRACEPARENT: "00-not-a-trace-01" } });
    const [id, other] = [traced.stdout.trim(), plain.stdout.trim()];
    expect((await project.status(id)).trace).toEqual({ traceparent: `00-${traceId}-${parent}-01`, tracestate: "vendor=1" });
    expect((await project.status(other)).trace).toBeUndefined();
    for (const task of [id, other]) expect(await project.waitForTask(task, (t) => t.completed)).toMatchObject({ status: "succeeded", tries: 2 });
    const tries = () => collector.spans().filter((span) => span.name === "process flaky");
    await waitFor(
      () => tries().length === 4,
      30_000,
      () => `the four tries' spans at the collector; it has ${collector.spans().map((s) => s.name)}`,
    );
    const of = (task: string) => tries().filter((span) => span.attributes["messaging.message.id"] === task);
    expect(of(id).map((span) => [span.traceId, span.parentSpanId])).toEqual([
      [traceId, parent],
      [traceId, parent],
    ]);
    // With no context stored, each try is a trace of its own.
    expect(of(other).map((span) => span.parentSpanId || null)).toEqual([null, null]);
    expect(new Set(of(other).map((span) => span.traceId)).size).toBe(2);
  }, 90_000);
});
