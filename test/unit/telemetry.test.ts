// The telemetry seam (src/telemetry/otel.ts) where a project has no @opentelemetry/api, and the
// trace context a process was started in.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { environmentTrace, NO_TELEMETRY, telemetryOf } from "../../src/telemetry/otel.ts";

it("a project without @opentelemetry/api gets the telemetry that only calls through", async () => {
  const root = mkdtempSync(join(tmpdir(), "bgtask-otel-"));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  const telemetry = await telemetryOf(root);
  expect(telemetry).toBe(NO_TELEMETRY);
  expect(await telemetry.send("x", 1, async (trace) => ({ ids: ["1"], trace }))).toEqual({ ids: ["1"], trace: undefined });
});

it("reads TRACEPARENT (and TRACESTATE) when well formed, else nothing", () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  expect(environmentTrace({ TRACEPARENT: traceparent })).toEqual({ traceparent });
  expect(environmentTrace({ TRACEPARENT: ` ${traceparent.toUpperCase()}\n`, TRACESTATE: "a=1" })).toEqual({ traceparent, tracestate: "a=1" });
  for (const bad of [undefined, "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "nonsense", `${traceparent}-x`])
    expect(environmentTrace({ TRACEPARENT: bad })).toBeUndefined();
});
