// A stand-in OTLP/HTTP collector for the tests of telemetry: it keeps what the exporters post (JSON
// from @opentelemetry/exporter-*-otlp-http) and reads the spans and metric points out of it.
import { readFileSync, symlinkSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { REPO } from "./project.ts";

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
type KeyValue = { key: string; value: AnyValue };

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status?: { code?: number; message?: string };
  attributes: Record<string, string | number | boolean | undefined>;
}

export interface Point {
  metric: string;
  attributes: Record<string, string | number | boolean | undefined>;
  /** A sum's value, or a histogram's count. */
  value: number;
}

/** OTLP's span kinds, as the JSON encoding numbers them. */
export const KIND = { internal: 1, producer: 4, consumer: 5 } as const;

function attributesOf(list: KeyValue[] | undefined): Span["attributes"] {
  const entries = (list ?? []).map(({ key, value }) => [
    key,
    value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue)),
  ]);
  return Object.fromEntries(entries) as Span["attributes"];
}

export interface Collector {
  url: string;
  /** Every post, as "<path> <body>". */
  bodies: string[];
  spans(): Span[];
  points(): Point[];
}

/** Starts a collector on 127.0.0.1 that answers every post with 200; closed when the test ends. */
export async function startCollector(onFinished: (fn: () => void) => void): Promise<Collector> {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      bodies.push(`${request.url} ${body}`);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onFinished(() => void server.close());
  const posted = (path: string) => bodies.filter((body) => body.startsWith(`${path} `)).map((body) => JSON.parse(body.slice(path.length + 1)));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    spans: () =>
      posted("/v1/traces").flatMap((post) =>
        post.resourceSpans.flatMap((r: { scopeSpans: Array<{ spans: Array<Span & { attributes: KeyValue[] }> }> }) =>
          r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, attributes: attributesOf(span.attributes) }))),
        ),
      ),
    points: () =>
      posted("/v1/metrics").flatMap((post) =>
        post.resourceMetrics.flatMap((r: { scopeMetrics: Array<{ metrics: Array<Record<string, unknown> & { name: string }> }> }) =>
          r.scopeMetrics.flatMap((s) =>
            s.metrics.flatMap((metric) => {
              const data = (metric.sum ?? metric.histogram ?? metric.gauge) as { dataPoints: Array<Record<string, unknown>> };
              return data.dataPoints.map((point) => ({
                metric: metric.name,
                attributes: attributesOf(point.attributes as KeyValue[]),
                value: Number(point.asInt ?? point.asDouble ?? point.count),
              }));
            }),
          ),
        ),
      ),
  };
}

/** The docs' otel.mjs, as written in docs/configuration.md, with the packages it imports linked into `dir`'s node_modules. */
export function docsOtelSetUp(dir: string): string {
  symlinkSync(join(REPO, "node_modules", "@opentelemetry"), join(dir, "node_modules", "@opentelemetry"), "dir");
  const docs = readFileSync(join(REPO, "docs", "configuration.md"), "utf8");
  return /```js\n(\/\/ otel\.mjs[\s\S]*?)```/.exec(docs)![1]!;
}
