// Workers on several hosts drain one PostgreSQL journal. Each "host" is a UTS namespace with its
// own host name (unshare --uts) and its own bgtask home, so its workers are "unknown" to the others
// and only their heartbeats in the database tell whether they live: the cross-host path for real.
// Every try writes its start and end to a side file; the test then checks what the journal alone
// cannot show: no two tries of a task, nor of a serial key, ever overlapped.
import { execa, type ResultPromise } from "execa";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO, useProject, waitFor, type Project } from "../helpers/project.ts";
import { scaled, summary } from "../helpers/stress.ts";

const enabled = Boolean(process.env.BGTASK_TEST_PG);
const WORKER_ENTRY = join(REPO, "dist/worker/main.js");

const EXECUTOR = (serial: boolean) => `
  import { defineTask } from "bgtask";
  import { appendFileSync } from "node:fs";
  import { hostname } from "node:os";
  export default defineTask<{ n: number; k?: number; log: string }>({
    ${serial ? "serialKey: (context) => String(context.k)," : ""}
    async run(task) {
      const line = (what: string) => appendFileSync(task.context.log, \`\${what} \${task.id} \${task.tries} \${hostname()} \${process.pid} \${Date.now()}\\n\`);
      line("S");
      // A few slow tries, for the kill to catch one mid-way; the rest quick, to drain 10,000.
      if (task.context.n % 500 === 7) await new Promise((r) => setTimeout(r, 1500));
      line("E");
      return { message: "done" };
    },
  });`;

interface Try {
  id: string;
  host: string;
  pid: number;
  start: number;
  end: number | null;
}

function readTries(log: string): Try[] {
  const open = new Map<string, Try>();
  const tries: Try[] = [];
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (!line) continue;
    const [what, id, tryNumber, host, pid, t] = line.split(" ");
    const key = `${id}/${tryNumber}/${pid}`;
    if (what === "S") {
      const entry: Try = { id: id!, host: host!, pid: Number(pid), start: Number(t), end: null };
      open.set(key, entry);
      tries.push(entry);
    } else {
      open.get(key)!.end = Number(t);
    }
  }
  return tries;
}

/** Pairs of tries of one group (a task, a serial key) that ran at the same time; a try with no end ran until `until`. */
function overlaps(groups: Map<string, Try[]>, until: (t: Try) => number): string[] {
  const found: string[] = [];
  for (const [group, list] of groups) {
    const sorted = [...list].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i += 1) {
      const before = sorted[i - 1]!;
      if (sorted[i]!.start < (before.end ?? until(before))) found.push(`${group}: ${JSON.stringify(before)} and ${JSON.stringify(sorted[i])}`);
    }
  }
  return found;
}

function groupBy(tries: readonly Try[], key: (t: Try) => string | null): Map<string, Try[]> {
  const groups = new Map<string, Try[]>();
  for (const t of tries) {
    const k = key(t);
    if (k !== null) groups.set(k, [...(groups.get(k) ?? []), t]);
  }
  return groups;
}

/** Pids of live processes whose environment holds `marker` (a host's own BGTASK_HOME). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/** Starts `workers` worker processes on a host of their own: a UTS namespace named `host`, with its own bgtask home. */
function startHost(project: Project, host: string, workers: number): { home: string; done: ResultPromise } {
  const home = join(project.dir, `home-${host}`);
  mkdirSync(home, { recursive: true });
  const script = `hostname ${host}; for i in $(seq ${workers}); do "${process.execPath}" "${WORKER_ENTRY}" & done; wait`;
  const done = execa("unshare", ["--uts", "--fork", "sh", "-c", script], {
    cwd: project.dir,
    reject: false,
    stdin: "ignore",
    env: { ...project.env, BGTASK_ROOT: project.dir, BGTASK_HOME: home, BGTASK_TASKS: join(project.dir, "tasks") },
    extendEnv: true,
  });
  return { home, done };
}

describe.skipIf(!enabled)("PostgreSQL journal: workers on several hosts", () => {
  it("3 hosts × 2 workers drain 10,000 tasks; one host SIGKILLed midway is recovered by the others; no overlapping tries of a task or a serial key", async () => {
    const total = scaled(10_000, 30_000);
    const project = useProject(onTestFinished, {
      journal: "postgres",
      tasks: { "hop.ts": EXECUTOR(false), "keyed.ts": EXECUTOR(true) },
      // Short heartbeats, so the killed host's tries are presumed lost within seconds; idle workers wait for the others.
      env: { BGTASK_HEARTBEAT: "300ms", BGTASK_HEARTBEAT_TIMEOUT: "3s", BGTASK_IDLE: "5s" },
    });
    const log = join(project.dir, "tries.log");
    writeFileSync(log, "");
    const plain = join(project.dir, "plain.jsonl");
    const keyed = join(project.dir, "keyed.jsonl");
    const keyedCount = Math.floor(total / 10);
    for (let n = 0; n < total - keyedCount; n += 1) appendFileSync(plain, `${JSON.stringify({ n, log })}\n`);
    for (let n = 0; n < keyedCount; n += 1) appendFileSync(keyed, `${JSON.stringify({ n, k: n % 10, log })}\n`);
    for (const [executor, file] of [
      ["hop", plain],
      ["keyed", keyed],
    ] as const) {
      const enqueued = await project.cli(["run", executor, "--each", file, "--no-worker", "--retry", "5x0s"]);
      expect(enqueued.code, enqueued.stderr).toBe(0);
    }

    const started = Date.now();
    const hosts = ["host-a", "host-b", "host-c"].map((name) => ({ name, ...startHost(project, name, 2) }));
    onTestFinished(() => {
      for (const host of hosts) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    const ended = () => readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("E ")).length;
    const victim = hosts[1]!;
    // Midway, and while the victim is inside a try: the kill must cut one, not only fall between tries.
    await waitFor(
      () => ended() >= total * 0.3 && readTries(log).some((t) => t.host === victim.name && t.end === null),
      180_000,
      () => `only ${ended()} tries ended, or ${victim.name} never ran a slow one`,
    );
    const killedAt = Date.now();
    for (const pid of processesWith(`BGTASK_HOME=${victim.home}`)) process.kill(pid, "SIGKILL");

    // The side file first (cheap to poll), then the journal: every task's try ended, and every task succeeded.
    await waitFor(() => ended() >= total, 300_000, () => `only ${ended()} of ${total} tries ended`);
    await waitFor(
      async () => (await project.list(["--status", "succeeded"])).length === total,
      60_000,
      () => `not all ${total} tasks succeeded`,
      500,
    );
    const drainedMs = Date.now() - started;

    const tasks = await project.list();
    expect(tasks.filter((t) => t.status !== "succeeded")).toEqual([]);
    for (const task of tasks) expect(task.history.filter((h) => h.status === "succeeded")).toHaveLength(1);

    const tries = readTries(log);
    // A try with no end was killed with its host: it ran until the kill, no later.
    const until = (t: Try) => (t.host === victim.name ? killedAt : Number.POSITIVE_INFINITY);
    expect(tries.filter((t) => t.end === null && t.host !== victim.name)).toEqual([]);
    expect(overlaps(groupBy(tries, (t) => t.id), until)).toEqual([]);
    const keyOf = new Map(tasks.filter((t) => t.serialKey !== null).map((t) => [t.id, t.serialKey!]));
    expect(overlaps(groupBy(tries, (t) => keyOf.get(t.id) ?? null), until)).toEqual([]);

    const cut = tries.filter((t) => t.end === null);
    expect(cut.length).toBeGreaterThan(0);
    const recoveredIn = cut.map((t) => Math.min(...tries.filter((o) => o.id === t.id && o.start > t.start).map((o) => o.start)) - killedAt);
    expect(recoveredIn.every(Number.isFinite)).toBe(true);
    const hostsUsed = new Set(tries.map((t) => t.host));
    expect(hostsUsed).toEqual(new Set(hosts.map((h) => h.name)));
    summary(
      "several hosts",
      `${total} tasks, 3 hosts × 2 workers, drained in ${drainedMs} ms; host-b SIGKILLed after ${killedAt - started} ms with ${cut.length} tries cut; ` +
        `those ran again elsewhere ${Math.max(0, ...recoveredIn)} ms after the kill at most (heartbeat timeout 3 s); overlaps 0`,
    );
  }, 600_000);
});
