// The config's `preload` (where a user starts an OpenTelemetry SDK): node's flags that import it in
// a worker, its import where `--import` does not reach (a worker thread's sandbox, and a tick, whose
// tries run in the CLI's process), and the flush of what such an SDK still holds before a process
// that ran tries exits. A package name resolves from the project root, as `--import` resolves it.
import { fromRoot, projectApi } from "../telemetry/otel.ts";

let imported: Promise<unknown> | null = null;

/** Node's flags that import `preload` before a process's own code; none when the process has them already (a sandbox forked by a worker). */
export function preloadFlags(config: { preload: string | null }, execArgv: readonly string[] = []): string[] {
  return config.preload === null || execArgv.includes(config.preload) ? [] : ["--import", config.preload];
}

/** Imports `preload` (Config.preload: a file URL or a package name) once per thread. */
export function importPreload(preload: string | null, root: string): Promise<unknown> {
  if (preload === null) return Promise.resolve();
  imported ??= import(preload.startsWith("file:") ? preload : fromRoot(root, preload));
  return imported;
}

/** Most a process waits, on its way out, for an SDK to export what it holds. */
const FLUSH_WAIT_MS = 5_000;

interface Flushable {
  forceFlush?: () => Promise<void>;
  getDelegate?: () => Flushable;
}

/**
 * Asks the OpenTelemetry SDK a preload started to export the spans and metrics it still holds (a
 * batch waits seconds) before this process's exit cuts them off: through the project's
 * @opentelemetry/api, whose providers are global whichever copy registered them. Nothing when the
 * project has no preload or no such package; at most FLUSH_WAIT_MS.
 */
export async function flushTelemetry(preload: string | null, root: string): Promise<void> {
  if (preload === null) return;
  const api = await projectApi(root);
  if (!api) return;
  const providers = [api.trace.getTracerProvider() as Flushable, api.metrics.getMeterProvider() as Flushable];
  const flushes = providers.map((provider) => (provider?.getDelegate?.() ?? provider)?.forceFlush?.().catch(() => undefined));
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, FLUSH_WAIT_MS);
  });
  await Promise.race([Promise.all(flushes), waited]);
  clearTimeout(timer);
}
