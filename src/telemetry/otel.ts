// bgtask's own spans and metrics, under OpenTelemetry's messaging conventions: a `send {executor}`
// span where tasks are enqueued, whose context is stored with each task, and a `process
// {executor}` span per try that continues it (every try of the task, retries too), with the
// messaging counters and the processing time. They go through the project's @opentelemetry/api,
// an optional peer: a project without it loads nothing, and each call below only calls through.
// Whatever SDK the project registered (see `preload`) exports them; with none, the API is a no-op.
import type * as OtelApi from "@opentelemetry/api";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { TaskRecord, TraceCarrier } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";

type Api = typeof OtelApi;

/** bgtask's spans and metrics in one process, or their absence (NO_TELEMETRY). */
export interface Telemetry {
  /**
   * Runs `store` (an enqueue of `count` tasks of `executor`) in a `send` span; `store` gets the
   * context to keep with each task (undefined when no SDK propagates one) and returns the ids made.
   */
  send<T extends { ids: readonly string[] }>(executor: string, count: number, store: (trace: TraceCarrier | undefined) => Promise<T>): Promise<T>;
  /**
   * A `send` span for tasks that may or may not be made (a schedule's slot, which another worker may
   * fire first): `trace` is its context, to store with them; `end` ends it with the ids made, and
   * a span never ended is never exported, so a firing that made nothing leaves no span.
   */
  sendMaybe(executor: string): { trace: TraceCarrier | undefined; end(ids: readonly string[]): void };
  /** Runs one try in a `process` span that continues the task's stored context; `run` gets this span's context (for a sandbox). */
  process(task: TaskRecord, run: (trace: TraceCarrier | undefined) => Promise<TryOutcome>): Promise<TryOutcome>;
  /** Runs `run` with `trace` (a `process` span's context handed to a sandbox) as the active context. */
  within<T>(trace: TraceCarrier | undefined, run: () => Promise<T>): Promise<T>;
  /**
   * Reports the queues as gauges, per executor, whenever the SDK collects: `read` gives the journal's
   * figures then (null, or a throw: none this time). Once per process; a worker calls it.
   */
  observeQueues(read: () => Promise<QueueFigures | null>): void;
}

/** What the queue gauges report, per executor: tasks queued, and how long the oldest has waited. */
export interface QueueFigures {
  queued: Record<string, number>;
  oldestAgeMs: Record<string, number>;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace context a process was started in, from the TRACEPARENT and TRACESTATE variables
 * (OpenTelemetry's environment carrier): a traced script's `bgtask run` stores it, so its tasks'
 * tries continue that trace with no SDK in the CLI. Undefined when absent or malformed.
 */
export function environmentTrace(env: NodeJS.ProcessEnv = process.env): TraceCarrier | undefined {
  const traceparent = env.TRACEPARENT?.trim().toLowerCase();
  if (!traceparent || !TRACEPARENT.test(traceparent)) return undefined;
  return env.TRACESTATE ? { traceparent, tracestate: env.TRACESTATE } : { traceparent };
}

export const NO_TELEMETRY: Telemetry = {
  send: (_executor, _count, store) => store(undefined),
  sendMaybe: () => ({ trace: undefined, end: () => undefined }),
  process: (_task, run) => run(undefined),
  within: (_trace, run) => run(),
  observeQueues: () => undefined,
};

/** A package's entry as a file URL, resolved from the project root (as node's `--import` resolves a name there). */
export function fromRoot(root: string, name: string): string {
  return pathToFileURL(createRequire(join(root, "package.json")).resolve(name)).href;
}

/** The project's @opentelemetry/api, or null when it has none. */
export async function projectApi(root: string): Promise<Api | null> {
  try {
    return (await import(fromRoot(root, "@opentelemetry/api"))) as Api;
  } catch {
    return null;
  }
}

const loaded = new Map<string, Promise<Telemetry>>();

/** The telemetry of the project at `root`: loaded once per process (or thread). */
export function telemetryOf(root: string): Promise<Telemetry> {
  let telemetry = loaded.get(root);
  if (!telemetry) {
    telemetry = projectApi(root).then((api) => (api ? new Messaging(api) : NO_TELEMETRY));
    loaded.set(root, telemetry);
  }
  return telemetry;
}

const SYSTEM = "bgtask";

class Messaging implements Telemetry {
  private readonly api: Api;
  private readonly tracer: OtelApi.Tracer;
  private readonly sent: OtelApi.Counter;
  private readonly consumed: OtelApi.Counter;
  private readonly duration: OtelApi.Histogram;
  private readonly meter: OtelApi.Meter;
  private observing = false;

  constructor(api: Api) {
    this.api = api;
    // Made at the first enqueue or try, after the preload (or the app) registered its SDK: the
    // API's tracer follows a provider registered later, its meter does not.
    this.tracer = api.trace.getTracer(SYSTEM);
    const meter = api.metrics.getMeter(SYSTEM);
    this.meter = meter;
    this.sent = meter.createCounter("messaging.client.sent.messages", { unit: "{message}", description: "Tasks enqueued" });
    this.consumed = meter.createCounter("messaging.client.consumed.messages", { unit: "{message}", description: "Tries started" });
    this.duration = meter.createHistogram("messaging.process.duration", { unit: "s", description: "How long each try ran" });
  }

  /** The context a send span starts in: the caller's span; with none, the trace the process was started in, if any. */
  private sendParent(): OtelApi.Context {
    const { api } = this;
    const active = api.context.active();
    const started = environmentTrace();
    return api.trace.getSpan(active) || !started ? active : api.propagation.extract(active, started);
  }

  /** Records on `span` what a send stored: its id when one, and the sent counter. */
  private recordSent(span: OtelApi.Span, executor: string, ids: readonly string[]): void {
    if (ids.length === 1) span.setAttribute("messaging.message.id", ids[0]!);
    this.sent.add(ids.length, on(executor, "send"));
  }

  async send<T extends { ids: readonly string[] }>(executor: string, count: number, store: (trace: TraceCarrier | undefined) => Promise<T>): Promise<T> {
    const { api } = this;
    const attributes = { ...on(executor, "send"), ...(count > 1 ? { "messaging.batch.message_count": count } : {}) };
    return this.tracer.startActiveSpan(`send ${executor}`, { kind: api.SpanKind.PRODUCER, attributes }, this.sendParent(), async (span) => {
      try {
        const stored = await store(this.carrier());
        this.recordSent(span, executor, stored.ids);
        return stored;
      } catch (error) {
        failed(api, span, error as Error);
        throw error;
      } finally {
        span.end();
      }
    });
  }

  sendMaybe(executor: string): { trace: TraceCarrier | undefined; end(ids: readonly string[]): void } {
    const { api } = this;
    const span = this.tracer.startSpan(`send ${executor}`, { kind: api.SpanKind.PRODUCER, attributes: on(executor, "send") }, this.sendParent());
    const trace = api.context.with(api.trace.setSpan(api.context.active(), span), () => this.carrier());
    return {
      trace,
      end: (ids) => {
        if (ids.length > 1) span.setAttribute("messaging.batch.message_count", ids.length);
        this.recordSent(span, executor, ids);
        span.end();
      },
    };
  }

  async process(task: TaskRecord, run: (trace: TraceCarrier | undefined) => Promise<TryOutcome>): Promise<TryOutcome> {
    const { api } = this;
    const parent = task.trace ? api.propagation.extract(api.ROOT_CONTEXT, task.trace) : api.ROOT_CONTEXT;
    const attributes = { ...on(task.executor, "process"), "messaging.message.id": task.id, "bgtask.try": task.tries };
    this.consumed.add(1, on(task.executor, "process"));
    const started = performance.now();
    return this.tracer.startActiveSpan(`process ${task.executor}`, { kind: api.SpanKind.CONSUMER, attributes }, parent, async (span) => {
      let errorType: string | undefined;
      try {
        const outcome = await run(this.carrier());
        span.setAttribute("bgtask.outcome", outcome.kind);
        if (outcome.kind === "failed") {
          errorType = outcome.error.stack?.match(/^(\w+)/)?.[1] ?? "Error";
          span.setAttribute("error.type", errorType);
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome.error.message });
        }
        return outcome;
      } catch (error) {
        errorType = (error as Error).name;
        failed(api, span, error as Error);
        throw error;
      } finally {
        span.end();
        this.duration.record((performance.now() - started) / 1000, { ...on(task.executor, "process"), ...(errorType ? { "error.type": errorType } : {}) });
      }
    });
  }

  observeQueues(read: () => Promise<QueueFigures | null>): void {
    if (this.observing) return;
    this.observing = true;
    // No messaging convention names these: they are bgtask's, with the destination attribute of the others.
    const depth = this.meter.createObservableGauge("bgtask.queue.depth", { unit: "{message}", description: "Tasks queued, waiting to start" });
    const age = this.meter.createObservableGauge("bgtask.queue.oldest_age", { unit: "s", description: "How long the oldest queued task has waited" });
    this.meter.addBatchObservableCallback(
      async (result) => {
        const figures = await read().catch(() => null);
        if (!figures) return;
        for (const executor of new Set([...Object.keys(figures.queued), ...Object.keys(figures.oldestAgeMs)])) {
          const where = { "messaging.system": SYSTEM, "messaging.destination.name": executor };
          result.observe(depth, figures.queued[executor] ?? 0, where);
          result.observe(age, (figures.oldestAgeMs[executor] ?? 0) / 1000, where);
        }
      },
      [depth, age],
    );
  }

  within<T>(trace: TraceCarrier | undefined, run: () => Promise<T>): Promise<T> {
    const { api } = this;
    return trace ? api.context.with(api.propagation.extract(api.context.active(), trace), run) : run();
  }

  /** The active context as the registered propagator writes it; undefined when it writes nothing (no SDK). */
  private carrier(): TraceCarrier | undefined {
    const carrier: TraceCarrier = {};
    this.api.propagation.inject(this.api.context.active(), carrier);
    return Object.keys(carrier).length > 0 ? carrier : undefined;
  }
}

/** The attributes every span and measure of `executor`'s tasks carries. */
function on(executor: string, operation: "send" | "process"): OtelApi.Attributes {
  return {
    "messaging.system": SYSTEM,
    "messaging.operation.type": operation,
    "messaging.operation.name": operation,
    "messaging.destination.name": executor,
  };
}

function failed(api: Api, span: OtelApi.Span, error: Error): void {
  span.recordException(error);
  span.setAttribute("error.type", error.name);
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
}
