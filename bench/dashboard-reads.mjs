#!/usr/bin/env node
// What an open dashboard costs the journal: the store reads `bgtask ui` makes (its own count,
// GET /api/metrics) over a window while idle, and while one task reports progress continuously;
// and what `stats` costs on a long history and a deep queue. Writes a temp project, prints a table.
// Usage: npm run build && node bench/dashboard-reads.mjs [--seconds 10] [--finished 100000] [--queued 1000000]
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(REPO, "bin/bgtask.js");
const { values } = parseArgs({
  options: { seconds: { type: "string", default: "10" }, finished: { type: "string", default: "0" }, queued: { type: "string", default: "0" } },
});
const seconds = Number(values.seconds);

const dir = mkdtempSync(join(tmpdir(), "bgtask-dashboard-bench-"));
mkdirSync(join(dir, "node_modules"));
symlinkSync(REPO, join(dir, "node_modules", "bgtask"), "dir");
writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
mkdirSync(join(dir, "tasks"));
writeFileSync(join(dir, "tasks/noop.ts"), 'import { defineTask } from "bgtask";\nexport default defineTask({ async run() {} });\n');
writeFileSync(
  join(dir, "tasks/busy.ts"),
  `import { defineTask } from "bgtask";
   export default defineTask<{ ms: number }>({
     async run(task) {
       const end = Date.now() + task.context.ms;
       for (let i = 0; Date.now() < end; i++) { await task.progress((i / 10) % 100, \`step \${i}\`); await new Promise((r) => setTimeout(r, 1)); }
     },
   });`,
);
const env = { ...process.env, NO_COLOR: "1", BGTASK_IDLE: "500ms" };
const cli = (args, input) => execFileSync(process.execPath, [BIN, ...args], { cwd: dir, env, input, encoding: "utf8", maxBuffer: 1 << 30 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function get(url, cookie) {
  return new Promise((resolve, reject) => {
    request(url, { headers: { cookie } }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(JSON.parse(body)));
    })
      .on("error", reject)
      .end();
  });
}

async function fill(executor, count) {
  for (let done = 0; done < count; ) {
    const n = Math.min(50_000, count - done);
    cli(["run", executor, "--each", "-", "--no-worker"], "{}\n".repeat(n));
    done += n;
  }
}

try {
  if (Number(values.finished) > 0) {
    // Drained by the workers `run` starts, batch by batch, so the active set stays small.
    for (let done = 0; done < Number(values.finished); ) {
      const n = Math.min(20_000, Number(values.finished) - done);
      cli(["run", "noop", "--each", "-"], "{}\n".repeat(n));
      done += n;
      for (;;) {
        const { byStatus } = JSON.parse(cli(["stats", "--json"]));
        if (!byStatus.queued && !byStatus.running) break;
        await sleep(500);
      }
    }
  }
  if (Number(values.queued) > 0) await fill("noop", Number(values.queued));
  const timed = (args) => {
    const start = process.hrtime.bigint();
    cli(args);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  const statsMs = [timed(["stats", "--json"]), timed(["stats", "--json"]), timed(["stats", "--json"])].sort((a, b) => a - b)[1];

  const ui = spawn(process.execPath, [BIN, "ui", "--port", "0"], { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"] });
  let printed = "";
  ui.stdout.on("data", (c) => (printed += c));
  while (!printed.includes("\n")) await sleep(20);
  const url = new URL(printed.trim());
  const cookie = `bgtask_token_${url.port}=${url.searchParams.get("token")}`;
  // An open page: its event stream is what keeps the dashboard following the journal.
  const events = request(`${url.origin}/api/events`, { headers: { cookie } }, (res) => res.resume());
  events.end();
  await sleep(500);
  const reads = async () => (await get(`${url.origin}/api/metrics`, cookie)).storeReads;
  const window = async () => {
    const before = await reads();
    await sleep(seconds * 1000);
    return ((await reads()) - before) / seconds;
  };
  const idle = await window();
  // Behind a deep queue the busy task would wait for it: the busy figure is taken on a shallow journal.
  let busy = null;
  if (Number(values.queued) === 0) {
    cli(["run", "busy", "--ctx", JSON.stringify({ ms: (seconds + 4) * 1000 })]);
    await sleep(2000);
    busy = await window();
  }
  events.destroy();
  ui.kill("SIGTERM");
  console.log(`| journal | stats --json (median of 3) | dashboard reads/s idle | dashboard reads/s, one task reporting progress |`);
  console.log(`|---|---|---|---|`);
  console.log(
    `| ${values.finished} finished, ${values.queued} queued | ${statsMs.toFixed(0)} ms | ${idle.toFixed(1)} | ${busy === null ? "-" : busy.toFixed(1)} |`,
  );
} finally {
  // The workers this run started (their working directory is the project) go with it.
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) === dir) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone, or not ours
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
