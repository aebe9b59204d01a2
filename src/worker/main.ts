// Entry of a worker process: `node dist/worker/main.js <slot>` for a detached worker, or
// `main.js --foreground [--once] [--places N] [--executor NAME]…` for one of `bgtask work`'s. Reads the same
// config as the CLI that started it (locations come through BGTASK_* variables) and runs the loop.
import { parseArgs } from "node:util";
import { loadConfig, slotsPerWorker } from "../config/config.ts";
import { openStore } from "../journal/open.ts";
import { Runner } from "./runner.ts";
import { echoTaskLines } from "./task-log.ts";

async function main(): Promise<void> {
  process.setSourceMapsEnabled(true);
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { foreground: { type: "boolean" }, once: { type: "boolean" }, executor: { type: "string", multiple: true }, places: { type: "string" } },
  });
  const config = loadConfig({});
  const store = await openStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
  const foreground = values.foreground === true;
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
  try {
    await runner.run();
  } finally {
    await store.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`${new Date().toISOString()} bgtask worker ${process.pid} failed:`, error);
    process.exit(1);
  },
);
