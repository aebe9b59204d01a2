// Workers on several hosts drain one PostgreSQL journal. Each "host" is a UTS namespace with its
// own host name (unshare --uts) and its own bgtask home, so its workers are "unknown" to the others
// and only their heartbeats in the database tell whether they live: the cross-host path for real.
// Every try writes its start and end to a side file; the test then checks what the journal alone
// cannot show: no two tries of a task, nor of a serial key, ever overlapped.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, connect as connectTcp, type Socket } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { processesWith, startHost, WORKER_ENTRY } from "../helpers/hosts.ts";
import { alive, useProject, waitFor } from "../helpers/project.ts";
import { startCluster } from "../helpers/postgres.ts";
import { scaled, summary } from "../helpers/stress.ts";

const enabled = Boolean(process.env.BGTASK_TEST_PG);

const EXECUTOR = (serial: boolean) => `
  import { defineTask } from "bgtask";
  import { appendFileSync, existsSync } from "node:fs";
  import { hostname } from "node:os";
  export default defineTask<{ n: number; k?: number; log: string }>({
    ${serial ? "serialKey: (context) => String(context.k)," : ""}
    async run(task) {
      const line = (what: string) => appendFileSync(task.context.log, \`\${what} \${task.id} \${task.tries} \${hostname()} \${process.pid} \${Date.now()}\\n\`);
      line("S");
      // A few slow tries, and every try on a host the test marks slow (for the kill to catch one
      // mid-way); the rest quick, to drain 10,000.
      const slow = task.context.n % 500 === 7 || existsSync(\`\${task.context.log}.slow-\${hostname()}\`);
      if (slow) await new Promise((r) => setTimeout(r, 1500));
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

describe.skipIf(!enabled)("PostgreSQL journal: workers on several hosts", () => {
  it("3 hosts × 2 workers drain 10,000 tasks; one host SIGKILLed midway is recovered by the others; no overlapping tries of a task or a serial key", async () => {
    const total = scaled(10_000, 30_000);
    const project = useProject(onTestFinished, {
      journal: "postgres",
      tasks: { "hop.ts": EXECUTOR(false), "keyed.ts": EXECUTOR(true) },
      // Short heartbeats, so the killed host's tries are presumed lost within seconds (a 5 s timeout: the
      // fence leaves a loaded machine 2.75 s for a heartbeat); idle workers wait for the others.
      env: { BGTASK_HEARTBEAT: "300ms", BGTASK_HEARTBEAT_TIMEOUT: "5s", BGTASK_GRACE: "1s", BGTASK_IDLE: "5s" },
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
    const ended = () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("E ")).length;
    const victim = hosts[1]!;
    // Midway, and while the victim is inside a slow try (open for 200 ms already, so more than a
    // second is left of it): the kill must cut one, not only fall between tries. Its tries are
    // made slow from midway on, so it runs one however the drain is spread over the hosts.
    await waitFor(
      () => ended() >= total * 0.3,
      180_000,
      () => `only ${ended()} tries ended`,
    );
    writeFileSync(`${log}.slow-${victim.name}`, "");
    await waitFor(
      () => readTries(log).some((t) => t.host === victim.name && t.end === null && Date.now() - t.start > 200),
      60_000,
      () => `${victim.name} ran no slow try`,
    );
    const killedAt = Date.now();
    for (const pid of processesWith(`BGTASK_HOME=${victim.home}`)) process.kill(pid, "SIGKILL");

    // The side file first (cheap to poll), then the journal: every task's try ended, and every task succeeded.
    await waitFor(
      () => ended() >= total,
      300_000,
      () =>
        `only ${ended()} of ${total} tries ended; the hosts said: ${JSON.stringify(Object.fromEntries(hosts.map((h) => [h.name, h.said().slice(-2_000)])))}`,
    );
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
    expect(
      overlaps(
        groupBy(tries, (t) => t.id),
        until,
      ),
    ).toEqual([]);
    const keyOf = new Map(tasks.filter((t) => t.serialKey !== null).map((t) => [t.id, t.serialKey!]));
    expect(
      overlaps(
        groupBy(tries, (t) => keyOf.get(t.id) ?? null),
        until,
      ),
    ).toEqual([]);

    const cut = tries.filter((t) => t.end === null);
    expect(cut.length).toBeGreaterThan(0);
    const recoveredIn = cut.map((t) => Math.min(...tries.filter((o) => o.id === t.id && o.start > t.start).map((o) => o.start)) - killedAt);
    expect(recoveredIn.every(Number.isFinite)).toBe(true);
    const hostsUsed = new Set(tries.map((t) => t.host));
    expect(hostsUsed).toEqual(new Set(hosts.map((h) => h.name)));
    summary(
      "several hosts",
      `${total} tasks, 3 hosts × 2 workers, drained in ${drainedMs} ms; host-b SIGKILLed after ${killedAt - started} ms with ${cut.length} tries cut; ` +
        `those ran again elsewhere ${Math.max(0, ...recoveredIn)} ms after the kill at most (heartbeat timeout 5 s); overlaps 0`,
    );
  }, 600_000);
});

/** Milliseconds on the machine's monotonic clock, which every process shares and no faked host clock moves. */
const monotonicMs = () => Number(process.hrtime.bigint() / 1_000_000n);

/** A try that holds until its gate file exists (or its signal aborts), writing S, E or A (aborted) lines with its host, at monotonicMs(). */
const GATED = `
  import { defineTask } from "bgtask";
  import { appendFileSync, existsSync } from "node:fs";
  import { hostname } from "node:os";
  export default defineTask<{ gate: string; log: string }>({
    async run(task) {
      const line = (what: string) => appendFileSync(task.context.log, \`\${what} \${task.id} \${task.tries} \${hostname()} \${process.pid} \${Number(process.hrtime.bigint() / 1000000n)}\\n\`);
      line("S");
      while (!existsSync(task.context.gate)) {
        if (task.signal.aborted) {
          line("A");
          throw new Error("stopped: " + String(task.signal.reason));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      line("E");
      return { message: "done on " + hostname() };
    },
  });`;

/**
 * A TCP relay to PostgreSQL that can be cut: its connections stay open and silent, as across a
 * network partition. While `refuse(true)`, it resets every new connection at once instead.
 * `heal()` ends the partition: the silent connections are reset, and new ones get through.
 */
async function partitionableRelay(target: string): Promise<{ url: string; cut(): void; heal(): void; refuse(on: boolean): void; close(): void }> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  let cut = false;
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) {
      client.on("error", () => undefined).resetAndDestroy();
      return;
    }
    const upstream = connectTcp(Number(to.port), to.hostname);
    sockets.add(client).add(upstream);
    const relay = (from: Socket, into: Socket) => from.on("data", (chunk) => cut || into.write(chunk));
    relay(client, upstream);
    relay(upstream, client);
    for (const s of [client, upstream]) s.on("error", () => undefined).on("close", () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    cut: () => void (cut = true),
    heal: () => {
      cut = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    refuse: (on) => void (refusing = on),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A project on PostgreSQL with the gated executor, its tries' log, and a relay to the database that can be cut. */
async function gatedBehindRelay(env: Record<string, string>) {
  const project = useProject(onTestFinished, { journal: "postgres", tasks: { "gated.ts": GATED }, env });
  const relay = await partitionableRelay(project.env.BGTASK_JOURNAL!);
  onTestFinished(() => relay.close());
  const gate = join(project.dir, "gate");
  const log = join(project.dir, "tries.log");
  writeFileSync(log, "");
  return { project, relay, gate, log };
}

describe.skipIf(!enabled)("PostgreSQL journal: a worker that loses the database", () => {
  const env = { BGTASK_HEARTBEAT: "300ms", BGTASK_HEARTBEAT_TIMEOUT: "4s", BGTASK_GRACE: "1s", BGTASK_IDLE: "20s" };

  it("frozen (SIGSTOP) past the heartbeat timeout: another host takes the task; resumed (SIGCONT), its late writes are refused and it stops", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "gated.ts": GATED }, env });
    const gate = join(project.dir, "gate");
    const log = join(project.dir, "tries.log");
    writeFileSync(log, "");
    const id = await project.run("gated", [`gate=${gate}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]);
    const a = startHost(project, "host-a", 1);
    const first = await project.waitForTask(id, (t) => t.status === "running" && t.worker?.host === "host-a");
    const frozen = first.worker!.pid;
    process.kill(frozen, "SIGSTOP");
    onTestFinished(() => {
      if (alive(frozen)) process.kill(frozen, "SIGKILL");
    });

    const c = startHost(project, "host-c", 1);
    onTestFinished(() => {
      for (const host of [a, c]) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    const second = await project.waitForTask(id, (t) => t.status === "running" && t.worker?.host === "host-c", 60_000);
    expect(second.tries).toBe(2);
    expect(second.history[0]).toMatchObject({ status: "failed", error: { message: expect.stringMatching(/no heartbeat/) } });
    writeFileSync(gate, "");
    const done = await project.waitForTask(id, (t) => t.status === "succeeded");
    expect(done.message).toBe("done on host-c");

    process.kill(frozen, "SIGCONT");
    await waitFor(
      () => !alive(frozen),
      30_000,
      () => `the resumed worker ${frozen} did not stop`,
    );
    // Its try ran on to its end (the gate was open) but could write nothing: the record is host-c's.
    expect(readFileSync(log, "utf8")).toMatch(new RegExp(`^E ${id} 1 host-a ${frozen} `, "m"));
    const after = await project.status(id);
    expect(after).toEqual(done);
    expect(after.history.map((h) => [h.status, h.worker?.host])).toEqual([
      ["failed", "host-a"],
      ["succeeded", "host-c"],
    ]);
  }, 120_000);

  it("cut off from the database: it stops its own try before another host may take it over", async () => {
    const { project, relay, gate, log } = await gatedBehindRelay(env);
    const id = await project.run("gated", [`gate=${gate}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]);
    const a = startHost(project, "host-a", 1, { BGTASK_JOURNAL: relay.url });
    const c = { home: "" };
    onTestFinished(() => {
      for (const host of [a, c]) if (host.home) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    const first = await project.waitForTask(id, (t) => t.status === "running" && t.worker?.host === "host-a");
    const cutOff = first.worker!.pid;
    relay.cut();
    const cutAt = monotonicMs();
    Object.assign(c, startHost(project, "host-c", 1));

    const second = await project.waitForTask(id, (t) => t.status === "running" && t.worker?.host === "host-c", 60_000);
    await waitFor(
      () => readFileSync(log, "utf8").includes(" host-c "),
      30_000,
      () => "host-c's try never began",
    );
    const lines = readFileSync(log, "utf8");
    const aborted = new RegExp(`^A ${id} 1 host-a ${cutOff} (\\d+)`, "m").exec(lines);
    const takeover = new RegExp(`^S ${id} 2 host-c \\d+ (\\d+)`, "m").exec(lines);
    expect(aborted, lines).not.toBeNull();
    expect(takeover, lines).not.toBeNull();
    // The point of fencing: the cut-off try had stopped before the other host began it again.
    expect(Number(aborted![1])).toBeLessThan(Number(takeover![1]));
    expect(second.history[0]).toMatchObject({ status: "failed", worker: { host: "host-a" } });
    // The link comes back broken (connections reset): the fenced worker, whose lease is gone, exits; it ran nothing more.
    relay.close();
    await waitFor(
      () => !alive(cutOff),
      60_000,
      () => `the cut-off worker ${cutOff} did not exit; host-a said: ${a.said().slice(-3_000)}`,
    );
    writeFileSync(gate, "");
    expect((await project.waitForTask(id, (t) => t.status === "succeeded")).message).toBe("done on host-c");
    expect(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.includes(" host-a ")).length,
    ).toBe(2);
    summary("cut off", `try stopped ${Number(aborted![1]) - cutAt} ms after the cut, taken over by another host ${Number(takeover![1]) - cutAt} ms after it`);
  }, 120_000);
});

describe.skipIf(!enabled)("PostgreSQL journal: a worker cut off past its fence", () => {
  const env = { BGTASK_HEARTBEAT: "300ms", BGTASK_HEARTBEAT_TIMEOUT: "4s", BGTASK_GRACE: "1s" };

  it("leaves when the database is back, and a successor in its slot recovers its try and drains what was stored meanwhile, with no run or tick", async () => {
    const { project, relay, gate, log } = await gatedBehindRelay(env);
    // The worker `run` starts reaches the database through the relay; the commands below go straight to it.
    const started = await project.cli(["run", "gated", `gate=${gate}`, `log=${log}`, "--retry", "1x0s"], { env: { BGTASK_JOURNAL: relay.url } });
    expect(started.code, started.stderr).toBe(0);
    const id = started.stdout.trim();
    const cutOff = (await project.waitForTask(id, (t) => t.status === "running")).worker!.pid;
    relay.cut();
    await waitFor(
      () => readFileSync(log, "utf8").includes(`A ${id} 1 `),
      30_000,
      () => "the cut-off try was never stopped",
    );
    const meanwhile = await project.run("gated", [`gate=${gate}`, `log=${log}`, "--no-worker"]);
    relay.heal();
    await waitFor(
      () => !alive(cutOff),
      60_000,
      () => `the cut-off worker ${cutOff} did not leave`,
    );
    writeFileSync(gate, "");
    const recovered = await project.waitForTask(id, (t) => t.completed, 60_000);
    expect(recovered).toMatchObject({ status: "succeeded", tries: 2 });
    expect(recovered.history[1]!.worker!.pid).not.toBe(cutOff);
    expect(await project.waitForTask(meanwhile, (t) => t.completed, 60_000)).toMatchObject({ status: "succeeded", tries: 1 });
  }, 150_000);
});

describe.skipIf(!enabled)("PostgreSQL journal: the database restarts mid-drain", () => {
  it("pg_ctl restart -m fast, then a crash (stop -m immediate) and start: no acknowledged task lost, none ends twice, the same workers go on", async () => {
    const cluster = await startCluster();
    onTestFinished(() => cluster.stop());
    const total = scaled(2_000, 10_000);
    const project = useProject(onTestFinished, {
      tasks: { "hop.ts": EXECUTOR(false) },
      env: { BGTASK_JOURNAL: `${cluster.url}?schema=restarts`, BGTASK_IDLE: "60s" },
    });
    const log = join(project.dir, "tries.log");
    writeFileSync(log, "");
    const contexts = join(project.dir, "plain.jsonl");
    for (let n = 0; n < total; n += 1) appendFileSync(contexts, `${JSON.stringify({ n: n + 1, log })}\n`);
    const enqueued = await project.cli(["run", "hop", "--each", contexts, "--no-worker", "--json"]);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const acknowledged = new Set<string>((JSON.parse(enqueued.stdout) as Array<{ id: string }>).map((t) => t.id));

    const hosts = ["host-a", "host-b"].map((name) => startHost(project, name, 1));
    onTestFinished(() => {
      for (const host of hosts) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    // Users go on running tasks through the restarts: each id printed is acknowledged; a refusal (exit 3) is not.
    let running = true;
    onTestFinished(() => {
      running = false;
    });
    let refused = 0;
    const users = (async () => {
      for (let n = 0; running; n += 1) {
        const run = await project.cli(["run", "hop", `n=${total + n + 1}`, `log=${log}`, "--no-worker"]);
        if (run.code === 0) acknowledged.add(run.stdout.trim());
        else if (run.code === 3) refused += 1;
        else throw new Error(`run exited ${run.code}: ${run.stderr}`);
      }
    })();
    const ended = () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("E ")).length;
    await waitFor(
      () => ended() >= total * 0.25,
      120_000,
      () => `only ${ended()} tries ended`,
    );
    // The worker processes themselves, once they run tasks (not the shell around them, nor its short `hostname`).
    const workersBefore = hosts
      .flatMap((h) => processesWith(`BGTASK_HOME=${h.home}`))
      .filter((pid) => {
        const [command, ...args] = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
        return command === process.execPath && args.includes(WORKER_ENTRY);
      });
    expect(workersBefore).toHaveLength(2);
    await cluster.restartFast();
    await waitFor(
      () => ended() >= total * 0.6,
      120_000,
      () => `only ${ended()} tries ended after the fast restart`,
    );
    await cluster.crashAndStart();
    await waitFor(
      () => ended() >= total,
      180_000,
      () => `only ${ended()} tries ended after the crash`,
    );
    running = false;
    await users;

    await waitFor(
      async () => {
        const tasks = await project.list();
        return [...acknowledged].every((id) => tasks.some((t) => t.id === id && t.status === "succeeded"));
      },
      120_000,
      () => "not every acknowledged task succeeded",
      500,
    );
    const tasks = await project.list();
    const byId = new Map(tasks.map((t) => [t.id, t]));
    for (const id of acknowledged)
      expect(
        byId.get(id)?.history.filter((h) => h.status === "succeeded"),
        `task ${id}`,
      ).toHaveLength(1);
    // The workers that began are the ones that finished: they made their connections again by themselves.
    for (const pid of workersBefore) expect(alive(pid), `worker ${pid} is gone`).toBe(true);
    const ranTwice = [...groupBy(readTries(log), (t) => t.id)].filter(([, list]) => list.filter((t) => t.end !== null).length > 1).length;
    summary(
      "restarts",
      `${acknowledged.size} acknowledged tasks (${refused} runs refused while the database was down), a fast restart and a crash mid-drain: all succeeded once in the journal; ${ranTwice} ran again after a lost try`,
    );
  }, 600_000);
});

/** libfaketime's multi-threaded library (Node runs threads), from Debian's faketime package, or null when not installed. */
const LIBFAKETIME =
  ["x86_64-linux-gnu", "aarch64-linux-gnu"].map((arch) => `/usr/lib/${arch}/faketime/libfaketimeMT.so.1`).find((path) => existsSync(path)) ?? null;

/**
 * The environment of a host whose clock is off by `skew` ("+60s", "-60s"): libfaketime shifts what
 * the process (and its children) read of the wall clock; the monotonic clock, which Node's timers
 * and monotonicMs() use, is left alone.
 */
const skewed = (skew: string): Record<string, string> => ({ LD_PRELOAD: LIBFAKETIME!, FAKETIME: skew, FAKETIME_DONT_FAKE_MONOTONIC: "1" });

describe.skipIf(!enabled || LIBFAKETIME === null)("PostgreSQL journal: hosts whose clocks are a minute off (libfaketime)", () => {
  // 6 s: the fence (3.5 s) leaves a loaded machine room for a heartbeat; with 4 s (a 2 s fence) a live try was lost once, most likely to it.
  const timeoutMs = 6_000;
  const env = { BGTASK_HEARTBEAT: "300ms", BGTASK_HEARTBEAT_TIMEOUT: `${timeoutMs}ms`, BGTASK_GRACE: "1s", BGTASK_IDLE: "20s" };

  it("live workers a minute ahead and behind are not taken over; a tick a minute behind recovers a SIGKILLed host's try within the timeout; no overlap", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "gated.ts": GATED }, env });
    const log = join(project.dir, "tries.log");
    writeFileSync(log, "");
    const gateOf = (host: string) => join(project.dir, `gate-${host}`);
    // Two tasks, one claimed by each worker (a worker's first claim takes one); the gate of each is opened by host.
    const ids = [
      await project.run("gated", [`gate=${gateOf("1")}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]),
      await project.run("gated", [`gate=${gateOf("2")}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]),
    ];
    const ahead = startHost(project, "host-a", 1, skewed("+60s"));
    const behind = startHost(project, "host-b", 1, skewed("-60s"));
    onTestFinished(() => {
      for (const host of [ahead, behind]) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    const runningOn = async () => new Map((await project.list(["--status", "running"])).map((t) => [t.worker!.host, t]));
    await waitFor(
      async () => (await runningOn()).size === 2,
      60_000,
      () => `both hosts never ran a task; they said: ${ahead.said().slice(-2_000)} ${behind.said().slice(-2_000)}`,
      200,
    );
    const before = await runningOn();
    const gate = (host: string) => gateOf(ids.indexOf(before.get(host)!.id) === 0 ? "1" : "2");
    // The store of a host a minute behind stamps its heartbeats a minute later than its clock reads.
    const heartbeatLead = Date.parse(before.get("host-b")!.heartbeatAt!) - Date.parse(before.get("host-b")!.startedAt!);
    expect(heartbeatLead).toBeGreaterThan(59_000);

    // Ticks on this host (its clock is the database's) for twice the timeout: neither live try is judged silent.
    const judgedUntil = monotonicMs() + 2 * timeoutMs;
    let ticks = 0;
    while (monotonicMs() < judgedUntil) {
      const tick = await project.cli(["tick", "--max-time", "5s"]);
      expect(tick.code, tick.stderr).toBe(0);
      ticks += 1;
    }
    const judged = await runningOn();
    const gone = new Map<string, unknown>();
    for (const host of ["host-a", "host-b"]) {
      if (!judged.has(host)) gone.set(host, await project.status(before.get(host)!.id));
      const said = () =>
        `${host}'s try after ${ticks} ticks: ${JSON.stringify(gone.get(host))}; tries: ${readFileSync(log, "utf8")}; the hosts said: ${ahead.said().slice(-1_500)} | ${behind.said().slice(-1_500)}`;
      expect(judged.get(host), said()).toMatchObject({ id: before.get(host)!.id, tries: 1 });
    }

    // host-a (a minute ahead) dies; ticks on a host a minute behind recover its try once it is silent for the timeout, and run it again.
    const victim = before.get("host-a")!;
    for (const pid of processesWith(`BGTASK_HOME=${ahead.home}`)) process.kill(pid, "SIGKILL");
    const killedAt = monotonicMs();
    writeFileSync(gate("host-a"), "");
    await waitFor(
      async () => {
        const tick = await project.cli(["tick", "--max-time", "5s"], { env: skewed("-60s") });
        expect(tick.code, tick.stderr).toBe(0);
        return (await project.status(victim.id)).status === "succeeded";
      },
      60_000,
      () => "the ticks a minute behind never recovered the dead host's try",
      0,
    );
    const retried = await project.status(victim.id);
    expect(retried.tries).toBe(2);
    expect(retried.history[0]).toMatchObject({ status: "failed", worker: { host: "host-a" }, error: { message: expect.stringMatching(/no heartbeat/) } });
    const tries = readTries(log);
    const again = tries.find((t) => t.id === victim.id && t.start > killedAt)!;
    const recoveredIn = again.start - killedAt;
    // Silence counts from its last heartbeat (at most a beat and a check before the kill), judged on the database's clock.
    expect(recoveredIn).toBeGreaterThan(timeoutMs - 1_000);
    expect(recoveredIn).toBeLessThan(timeoutMs + 5_000);

    // The host a minute behind, alive all along, ends its own try: the only try of its task.
    writeFileSync(gate("host-b"), "");
    const survivor = await project.waitForTask(before.get("host-b")!.id, (t) => t.status === "succeeded");
    expect(survivor).toMatchObject({ tries: 1, message: "done on host-b" });
    const until = (t: Try) => (t.host === "host-a" ? killedAt : Number.POSITIVE_INFINITY);
    expect(
      overlaps(
        groupBy(readTries(log), (t) => t.id),
        until,
      ),
    ).toEqual([]);
    summary(
      "skewed clocks",
      `hosts ±60 s off: ${ticks} ticks over ${2 * timeoutMs} ms recovered neither live try; a host a minute ahead SIGKILLed, its try ran again ${recoveredIn} ms after the kill from a tick a minute behind (heartbeat timeout ${timeoutMs} ms); overlaps 0`,
    );
  }, 180_000);
});

describe.skipIf(!enabled)("PostgreSQL journal: the database down longer than the heartbeat timeout, then started again", () => {
  // The fence stops a cut-off worker's try before another host may judge it silent (that is its
  // point): with the default timings a database down for longer than the timeout has already made
  // every worker stop its own try, and the tries run again. The fence is never sooner than three
  // missed beats, so a heartbeat interval near the timeout (10 s of 11 s: fenced after 30 s) lets a
  // worker outlive an outage longer than the timeout: then only the database's start time keeps
  // its silence from counting the outage.
  const heartbeatMs = 10_000;
  const timeoutMs = 11_000;
  const downMs = timeoutMs + 500;

  it("pg_ctl stop -m fast, down longer than the timeout, start: a tick at once recovers no live worker's try; they beat again and end them", async () => {
    const cluster = await startCluster();
    onTestFinished(() => cluster.stop());
    const journal = `${cluster.url}?schema=outage`;
    const project = useProject(onTestFinished, {
      tasks: { "gated.ts": GATED },
      env: {
        BGTASK_JOURNAL: journal,
        BGTASK_HEARTBEAT: `${heartbeatMs}ms`,
        BGTASK_HEARTBEAT_TIMEOUT: `${timeoutMs}ms`,
        BGTASK_GRACE: "1s",
        BGTASK_IDLE: "60s",
      },
    });
    // The workers reach the database through a relay, which stays shut after the start until the
    // tick has judged: whatever reconnects first, the tick sees only heartbeats from before the outage.
    const relay = await partitionableRelay(journal);
    onTestFinished(() => relay.close());
    const log = join(project.dir, "tries.log");
    writeFileSync(log, "");
    const gate = join(project.dir, "gate");
    const ids = [
      await project.run("gated", [`gate=${gate}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]),
      await project.run("gated", [`gate=${gate}`, `log=${log}`, "--no-worker", "--retry", "1x0s"]),
    ];
    const hosts = ["host-a", "host-b"].map((name) => startHost(project, name, 1, { BGTASK_JOURNAL: relay.url }));
    onTestFinished(() => {
      for (const host of hosts) for (const pid of processesWith(`BGTASK_HOME=${host.home}`)) process.kill(pid, "SIGKILL");
    });
    const running = () => project.list(["--status", "running"]);
    // Stopped when both heartbeats are the supervisors' (their connections made) and fresh: two workers
    // beat out of phase, both within 3/4 of a beat at some point. The fence (30 s) stays clear of the outage.
    await waitFor(
      async () => {
        const tasks = await running();
        return tasks.length === 2 && tasks.every((t) => t.heartbeatAt !== t.startedAt && Date.now() - Date.parse(t.heartbeatAt!) < heartbeatMs * 0.75);
      },
      60_000,
      () => "the two tries never ran with fresh heartbeats",
      100,
    );
    const before = await running();
    await cluster.down();
    const downAt = Date.now();
    relay.refuse(true);
    // The outage's length is the scenario itself, not a wait for something to happen.
    await waitFor(
      () => Date.now() - downAt > downMs,
      downMs + 10_000,
      () => "the outage did not last",
    );
    await cluster.up();
    const upAt = Date.now();
    const tick = await project.cli(["tick", "--max-time", "5s"]);
    expect(tick.code, tick.stderr).toBe(0);
    const afterTick = await running();
    expect(afterTick.map((t) => [t.id, t.tries])).toEqual(before.map((t) => [t.id, t.tries]));
    // What the tick judged: heartbeats from before the outage, older than the timeout.
    expect(afterTick.every((t) => Date.parse(t.heartbeatAt!) <= downAt && Date.now() - Date.parse(t.heartbeatAt!) > timeoutMs)).toBe(true);
    relay.refuse(false);
    const openedAt = Date.now();

    // The workers beat again within the timeout of the start, and a later tick still finds them live.
    await waitFor(
      async () => (await running()).every((t) => Date.parse(t.heartbeatAt!) > openedAt),
      timeoutMs,
      () => `a worker did not beat again after the restart; they said: ${hosts.map((h) => h.said().slice(-1_000)).join(" | ")}`,
      100,
    );
    const beatAgainIn = Math.max(...(await running()).map((t) => Date.parse(t.heartbeatAt!) - upAt));
    expect(beatAgainIn).toBeLessThan(timeoutMs);
    const later = await project.cli(["tick", "--max-time", "5s"]);
    expect(later.code, later.stderr).toBe(0);
    writeFileSync(gate, "");
    for (const id of ids) expect(await project.waitForTask(id, (t) => t.status === "succeeded")).toMatchObject({ tries: 1 });
    // Neither worker fenced itself: each try ran once, to its end.
    expect(readTries(log).map((t) => t.id)).toEqual(expect.arrayContaining(ids));
    expect(readTries(log)).toHaveLength(2);
    expect(readFileSync(log, "utf8")).not.toMatch(/^A /m);
    summary(
      "outage",
      `database down ${upAt - downAt} ms (heartbeat timeout ${timeoutMs} ms): a tick at once recovered no live try; the workers beat again ${beatAgainIn} ms after the start`,
    );
  }, 180_000);
});
