// The file journal's oldest queued task per executor when an executor's tasks wait deep in the cold
// queue: stats reads at most COLD_SCAN_LINES of it (a scrape stays cheap at any depth), and an
// executor it did not meet by then gets the creation of the last line read, older than its own
// first (an age too high, never too low). Below that depth, each executor's own.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { COLD_SCAN_LINES } from "../../src/journal/file/reads.ts";
import { openStore } from "../../src/journal/open.ts";

const T0 = new Date("2026-01-01T00:00:00.000Z");
const input = (executor: string) => ({ executor, context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null });

async function deepQueue(ahead: number) {
  const root = mkdtempSync(join(tmpdir(), "bgtask-cold-oldest-"));
  const store = await openStore(join(root, "home"), { staleMs: 2_000, waitMs: 10_000 });
  onTestFinished(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });
  await store.enqueue(
    Array.from({ length: ahead }, () => input("x")),
    T0,
    null,
  );
  await store.enqueue([input("y")], new Date(T0.getTime() + 60_000), null);
  return store;
}

it("an executor whose first cold task is within the lines read gets its own time", async () => {
  const store = await deepQueue(2_000);
  expect((await store.stats(T0, 1)).oldestQueued).toEqual({ x: T0.toISOString(), y: "2026-01-01T00:01:00.000Z" });
});

it("past COLD_SCAN_LINES, it gets the last line read's: older than its own", { timeout: 60_000 }, async () => {
  const store = await deepQueue(COLD_SCAN_LINES + 50);
  expect((await store.stats(T0, 1)).oldestQueued).toEqual({ x: T0.toISOString(), y: T0.toISOString() });
});
