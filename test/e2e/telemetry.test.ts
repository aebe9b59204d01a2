// bgtask's own OpenTelemetry spans and metrics (issue 24): an app enqueues from inside a span of its
// own through bgtask/client; the `send` span is its child, each try's `process` span continues that
// trace in the worker (a retry too), and the executor's spans are the try's children, inline and in
// a thread. Exported by the docs' otel.mjs (the preload) to a stand-in OTLP collector.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { docsOtelSetUp, KIND, type Span, startCollector } from "../helpers/otlp.ts";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";

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
