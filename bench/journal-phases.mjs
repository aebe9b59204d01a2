// Profiling aid, not part of `npm run bench`: what one journal operation costs in-process (no CLI
// start-up, no executor), through the JournalStore interface of the built store, for active sets
// of several sizes; and the cross-process lock alone, as the store takes it. Run after
// `npm run build`:
//   node bench/journal-phases.mjs [active-set sizes, default 0,1000,10000]
// For where the time goes inside an operation, profile a worker draining a queue instead:
//   node --cpu-prof dist/worker/main.js   (in a project with queued tasks; see docs/README-performance.md)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../dist/journal/open.js";
import { claimNext } from "../dist/journal/store.js";
import { acquireLock } from "../dist/journal/file/lock.js";
import { currentProcess } from "../dist/host/process-identity.js";
import { loadTimings } from "../dist/config/config.js";

const sizes = (process.argv[2] ?? "0,1000,10000").split(",").map(Number);
const timings = loadTimings({});
const lockSettings = { staleMs: timings.lockStaleMs, waitMs: timings.lockWaitMs };
const input = (i) => ({ executor: "noop", context: { i }, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null });
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const format = (ms) => `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;

async function timed(reps, fn) {
  const out = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return median(out);
}

for (const size of sizes) {
  const home = mkdtempSync(join(tmpdir(), "bgtask-phases-"));
  const store = await openStore(home, lockSettings);
  const me = currentProcess();
  const row = { "active set": size.toLocaleString("en-US") };
  const enqueued = performance.now();
  if (size > 0)
    await store.enqueue(
      Array.from({ length: size }, (_, i) => input(i)),
      new Date(),
      null,
    );
  row[`bulk enqueue of ${size}`] = format(performance.now() - enqueued);
  await store.registerWorker("bench", me, new Date());
  const reps = Math.min(200, Math.max(1, size));
  row["lock + unlock"] = format(await timed(50, async () => (await acquireLock(home, join(home, "journal.lock"), lockSettings)).release()));
  row["enqueue 1 (durable)"] = format(await timed(20, () => store.enqueue([input(-1)], new Date(), null)));
  let task = await claimNext(store, me, new Date());
  row.report = format(await timed(20, () => store.report(task.id, task.lease, { progress: 50 }, new Date())));
  row["settle + claim next"] = format(
    await timed(reps, async () => {
      const ends = [{ id: task.id, lease: task.lease, outcome: { kind: "succeeded", message: null, result: null } }];
      const { next } = await store.exchange(me, new Date(), { ends, giveBack: [], claim: 1 });
      task = next[0] ?? (await claimNext(store, me, new Date()));
    }),
  );
  row["list (default)"] = format(await timed(10, () => store.list({ limit: 50 })));
  row["get oldest"] = format(await timed(10, () => store.get("1")));
  console.log(
    Object.entries(row)
      .map(([k, v]) => `${k}: ${v}`)
      .join(" · "),
  );
  await store.close();
  rmSync(home, { recursive: true, force: true });
}
