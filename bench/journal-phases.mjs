// Profiling aid (not part of `npm run bench`): the cost of each phase of one journal transaction of
// the file store in dist/, for active sets of several sizes. Run after `npm run build`:
//   node bench/journal-phases.mjs [sizes, default 0,1000,10000]
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileJournal } from "../dist/journal/file-store.js";
import { DurableJsonFile, serialiseDoc } from "../dist/journal/durable-file.js";
import { checkDoc } from "../dist/journal/schema.js";
import { acquireLock } from "../dist/journal/lock.js";
import { appendHistory } from "../dist/journal/history.js";
import { liveness, currentProcess } from "../dist/host/process-identity.js";

const sizes = (process.argv[2] ?? "0,1000,10000").split(",").map(Number);
const lockSettings = { staleMs: 10_000, waitMs: 30_000 };
const input = (i) => ({ executor: "noop", context: { i }, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null });
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const time = async (reps, fn) => {
  const out = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return med(out);
};

for (const size of sizes) {
  const home = mkdtempSync(join(tmpdir(), "bgtask-phases-"));
  const store = new FileJournal(home, lockSettings);
  const me = currentProcess();
  if (size > 0) await store.enqueue(Array.from({ length: size }, (_, i) => input(i)), new Date(), { maxWorkers: null, liveness });
  await store.registerWorker("s", me, new Date());
  const path = join(home, "journal.json");
  const bytes = statSync(path).size;
  const reps = size >= 10_000 ? 5 : 15;
  const file = new DurableJsonFile(path);
  const row = {
    "active tasks": String(size),
    "journal.json": `${(bytes / 1024).toFixed(0)} KiB`,
    "lock+unlock": await time(reps, async () => (await acquireLock(home, join(home, "journal.lock"), lockSettings)).release()),
    "readFile": await time(reps, () => readFileSync(path, "utf8")),
    "JSON.parse": await time(reps, () => JSON.parse(readFileSync(path, "utf8"))),
    "checkDoc": await (async () => { const d = JSON.parse(readFileSync(path, "utf8")); return time(reps, () => checkDoc(d)); })(),
    "serialise": await (async () => { const d = JSON.parse(readFileSync(path, "utf8")); return time(reps, () => serialiseDoc(d)); })(),
    "durable write": await (async () => { const d = await file.read(); return time(reps, async () => { d.rev += 1; await file.write(d); }); })(),
    "history append+fdatasync": await (async () => { let b = 0; return time(reps, () => { b = appendHistory(join(home, "h.jsonl"), b, ['{"id":"1"}\n']); }); })(),
  };
  // Whole operations as the worker does them, one task after another.
  const ops = { claim: [], report: [], settle: [] };
  for (let i = 0; i < Math.min(reps, Math.max(1, size)); i++) {
    let t = performance.now();
    const task = await store.claimNext("s", me, new Date(), { liveness, heartbeatTimeoutMs: 30_000 });
    ops.claim.push(performance.now() - t);
    if (!task) break;
    t = performance.now();
    await store.report(task.id, task.lease, { state: {} }, new Date());
    ops.report.push(performance.now() - t);
    t = performance.now();
    await store.settle(task.id, task.lease, { kind: "succeeded", message: null, result: null }, new Date());
    ops.settle.push(performance.now() - t);
  }
  for (const [k, v] of Object.entries(ops)) if (v.length) row[`${k} (whole)`] = med(v);
  console.log(Object.entries(row).map(([k, v]) => `${k}: ${typeof v === "number" ? `${v.toFixed(1)} ms` : v}`).join(" · "));
  rmSync(home, { recursive: true, force: true });
}
