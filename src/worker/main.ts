// Entry of a detached worker process: `node dist/worker/main.js <slot>`. Reads the same config as
// the CLI that started it (locations come through BGTASK_* variables) and runs the loop.
import { loadConfig } from "../config/config.ts";
import { openStore } from "../journal/open.ts";
import { Runner } from "./runner.ts";

async function main(): Promise<void> {
  process.setSourceMapsEnabled(true);
  const config = loadConfig({});
  const store = await openStore(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
  const runner = new Runner({ config, store, slot: process.argv[2] });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(signal, () => runner.stop(`worker stopped (${signal})`));
  }
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
