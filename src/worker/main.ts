// Entry of a worker process: `node dist/worker/main.js <slot>` for a detached worker, or
// `main.js --foreground [--once] [--places N] [--executor NAME]…` for one of `bgtask work`'s. Reads the same
// config as the CLI that started it (locations come through BGTASK_* variables) and runs the loop.
import { parseArgs } from "node:util";
import { loadConfig, slotsPerWorker } from "../config/config.ts";
import { BgtaskError } from "../errors.ts";
import { openStore } from "../journal/open.ts";
import { withDiskPatience } from "./disk-patience.ts";
import { flushTelemetry } from "./preload.ts";
import { telemetryOf } from "../telemetry/otel.ts";
import { Runner } from "./runner.ts";
import { echoTaskLines } from "./task-log.ts";

async function main(): Promise<void> {
  process.setSourceMapsEnabled(true);
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { foreground: { type: "boolean" }, once: { type: "boolean" }, executor: { type: "string", multiple: true }, places: { type: "string" } },
  });
  const config = loadConfig({});
  const foreground = values.foreground === true;
  const open = () => openStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
  // A detached worker has nobody to start it again: it waits for a database that refuses it now,
  // as for one lost later. One of `bgtask work` fails, and `bgtask work` starts another after a while.
  const waitFor = async () => {
    // Until the runner takes stops over, a stop ends the wait (its last error is raised).
    const stoppedEarly = new AbortController();
    const early = () => stoppedEarly.abort();
    process.once("SIGTERM", early).once("SIGINT", early).once("SIGHUP", early);
    try {
      return await withDiskPatience("open", open, { waitMs: config.timings.diskWaitMs, signal: stoppedEarly.signal, holding: false });
    } finally {
      process.off("SIGTERM", early).off("SIGINT", early).off("SIGHUP", early);
    }
  };
  const store = await (foreground ? open() : waitFor());
  if (foreground) echoTaskLines();
  const runner = new Runner({
    config,
    store,
    slot: positionals[0],
    places: values.places === undefined ? slotsPerWorker(config) : Number(values.places),
    replaceWhenRenewed: !foreground,
    stayIdle: foreground && !values.once,
    exitWhenIdle: values.once,
    executors: values.executor,
    echo: foreground,
  });
  // `bgtask work` forwards the terminal's Ctrl-C as one SIGTERM: the SIGINT the terminal sends the
  // whole process group would count as a second stop and force the try.
  const signals = foreground ? (["SIGTERM", "SIGHUP"] as const) : (["SIGTERM", "SIGINT", "SIGHUP"] as const);
  if (foreground) process.on("SIGINT", () => undefined);
  for (const signal of signals) process.on(signal, () => runner.stop(`worker stopped (${signal})`));
  // A foreground worker whose `bgtask work` is gone stops too, as if told to.
  process.on("disconnect", () => runner.stop("worker stopped (bgtask work exited)"));
  process.channel?.unref();
  // The queues as OpenTelemetry gauges, read from the journal whenever the project's SDK collects (a no-op without one).
  (await telemetryOf(config.root)).observeQueues(async () => {
    const now = new Date();
    const { counts, oldestQueued } = await store.stats(now, 1);
    const queued = Object.fromEntries(Object.entries(counts).map(([executor, row]) => [executor, row.queued ?? 0]));
    return { queued, oldestAgeMs: Object.fromEntries(Object.entries(oldestQueued).map(([e, at]) => [e, Math.max(0, now.getTime() - Date.parse(at))])) };
  });
  try {
    await runner.run();
    // Before the journal closes: the queue gauges read it as the SDK collects.
    await flushTelemetry(config.preload, config.root);
  } finally {
    await store.close();
  }
}

/**
 * Why the worker failed, in one line: a journal that cannot be used says so in a sentence (its
 * stack with BGTASK_DEBUG=1); anything else is a bug, whose stack is the report.
 */
function failure(error: unknown): string {
  const debug = process.env.BGTASK_DEBUG === "1";
  if (error instanceof BgtaskError) return debug && error.stack ? `${error.message}\n${error.stack}` : error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const say = () => console.error(`${new Date().toISOString()} bgtask worker ${process.pid} failed: ${failure(error)}`);
    if (!process.send || !process.connected) {
      say();
      process.exit(1);
    }
    // A worker of `bgtask work` hands the line to it, which says it once with what it does next.
    // The channel was unref'd: held until the line is sent, or the process would end with code 0 first.
    process.channel?.ref();
    process.send({ failed: failure(error) }, (unsent: Error | null) => {
      if (unsent) say();
      process.exit(1);
    });
  },
);
