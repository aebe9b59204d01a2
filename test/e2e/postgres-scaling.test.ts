// Scaling out on PostgreSQL: tasks pinned to a host (run --on) run there only, `tickScope` lets one
// tick run per host or one for all, and with LISTEN off (a transaction pooler) workers and `wait`
// still see new work by polling; a bulk enqueue is one change notice. Hosts are UTS namespaces with
// their own host names (test/helpers/hosts.ts), as in postgres-hosts.test.ts.
import { execa } from "execa";
import { writeFileSync } from "node:fs";
import { createServer, connect as connectTcp } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { openStore } from "../../src/journal/open.ts";
import { fixture } from "../helpers/fixtures.ts";
import { cliOnHost, killHosts, startHost, type Host } from "../helpers/hosts.ts";
import { BIN, type Project, useProject, waitFor } from "../helpers/project.ts";

const url = process.env.BGTASK_TEST_PG;

/** Says which host ran it. */
const WHERE = `
  import { defineTask } from "bgtask";
  import { hostname } from "node:os";
  export default defineTask({ async run() { return { message: hostname() }; } });`;

/** Runs until the file its context names exists. */
const GATED = `
  import { defineTask } from "bgtask";
  import { existsSync } from "node:fs";
  export default defineTask<{ gate: string }>({
    async run(task) {
      while (!existsSync(task.context.gate) && !task.signal.aborted) await new Promise((r) => setTimeout(r, 20));
      return { message: "through" };
    },
  });`;

/** `count` tasks of `executor` from one `run --each`, with `args`; their ids. */
async function runMany(project: Project, executor: string, count: number, args: string[], context: object = {}): Promise<string[]> {
  const file = join(project.dir, `each-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, `${JSON.stringify(context)}\n`.repeat(count));
  const result = await project.cli(["run", executor, "--each", file, ...args]);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim().split("\n");
}

/**
 * A relay to the database that turns every LISTEN into a syntax error, as a pooler that refuses it
 * would: the bytes are changed in place, so the protocol's lengths still hold.
 */
async function listenRefusingRelay(journal: string): Promise<{ url: string; refused(): number }> {
  const target = new URL(journal);
  const listen = Buffer.from('listen "');
  let refused = 0;
  const server = createServer((client) => {
    const upstream = connectTcp(Number(target.port), target.hostname);
    client.on("data", (chunk: Buffer) => {
      for (let at = chunk.indexOf(listen); at !== -1; at = chunk.indexOf(listen, at + 1)) {
        chunk[at + 3] = "x".charCodeAt(0);
        refused += 1;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    // Either side gone (or failed) ends the other.
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const)
      socket.on("error", () => other.destroy()).on("close", () => other.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => void server.close());
  const url = new URL(journal);
  url.port = String((server.address() as { port: number }).port);
  return { url: url.toString(), refused: () => refused };
}

function useHosts(): Host[] {
  const hosts: Host[] = [];
  onTestFinished(() => killHosts(hosts));
  return hosts;
}

describe.skipIf(!url)("PostgreSQL journal: scaling out", () => {
  it("a task pinned to a host waits, said by status, while another host's worker drains the rest; that host's worker then runs it, and only it", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "where.ts": WHERE }, env: { BGTASK_IDLE: "60s" } });
    const pinned = await runMany(project, "where", 5, ["--on", "host-b", "--no-worker"]);
    const free = await runMany(project, "where", 5, ["--no-worker"]);
    const hosts = useHosts();
    hosts.push(startHost(project, "host-a", 1));
    await waitFor(
      async () => (await project.list()).filter((t) => t.status === "succeeded").length === free.length,
      30_000,
      () => `host-a did not drain the tasks pinned to no host; it said: ${hosts[0]!.said()}`,
    );
    // host-a's worker stays (a 60 s idle window), polling: still, it takes none of host-b's.
    for (const task of await project.list()) {
      if (pinned.includes(task.id)) expect(task).toMatchObject({ status: "queued", pinnedHost: "host-b" });
      else expect(task).toMatchObject({ status: "succeeded", message: "host-a", pinnedHost: null });
    }
    const status = await project.cli(["status", pinned[0]!]);
    expect(status.stdout).toMatch(/^status\s+queued \(waits for a worker on host host-b\)$/m);
    expect(status.stdout).toMatch(/^on host\s+host-b /m);

    hosts.push(startHost(project, "host-b", 1));
    for (const id of pinned) await project.waitForTask(id, (t) => t.status === "succeeded");
    for (const id of pinned) expect(await project.status(id)).toMatchObject({ message: "host-b", pinnedHost: "host-b" });
    const workers = JSON.parse((await project.cli(["workers", "--json"])).stdout) as Array<{ host: string; pid: number | null }>;
    expect(workers.map((w) => w.host).sort()).toEqual(["host-a", "host-b"]);
    for (const worker of workers) expect(worker.pid).toEqual(expect.any(Number));
  });

  for (const scope of ["cluster", "host"] as const) {
    it(`tickScope "${scope}": ${scope === "host" ? "two hosts tick at once" : "a second host's tick exits at once, naming the tick that runs"}`, async () => {
      const project = useProject(onTestFinished, { journal: "postgres", tasks: { "gated.ts": GATED }, config: { tickScope: scope, worker: false } });
      const gate = join(project.dir, "gate");
      const ids = await runMany(project, "gated", 2, [], { gate });
      const hosts = useHosts();
      const running = async () => (await project.list()).filter((t) => t.status === "running").map((t) => t.worker?.host);
      hosts.push(cliOnHost(project, "host-a", ["tick", "--max-time", "60s"]));
      await waitFor(
        async () => (await running()).length === 1,
        30_000,
        () => `host-a's tick never started a task: ${hosts[0]!.said()}`,
      );
      hosts.push(cliOnHost(project, "host-b", ["tick", "--max-time", "60s"]));
      if (scope === "cluster") {
        const second = await hosts[1]!.done;
        expect(second.exitCode, String(second.stderr)).toBe(0);
        expect(String(second.stdout)).toMatch(/^bgtask: a tick is already running \(pid \d+ on host-a, since .*\); this one exits$/);
        expect(await running()).toEqual(["host-a"]);
      } else {
        await waitFor(
          async () => (await running()).length === 2,
          30_000,
          () => `host-b's tick never started the second task: ${hosts[1]!.said()}`,
        );
        expect((await running()).sort()).toEqual(["host-a", "host-b"]);
        // A tick's runner holds a worker slot: `workers` shows each host's, its task and its heartbeat (in the database: no beat file here).
        const workers = JSON.parse((await project.cli(["workers", "--json"])).stdout) as Array<{
          host: string;
          pid: number;
          state: string;
          task: { id: string } | null;
          lastHeartbeatAt: string | null;
        }>;
        expect(workers.map((w) => [w.host, w.state, w.task?.id]).sort()).toEqual([
          ["host-a", "unknown", expect.any(String)],
          ["host-b", "unknown", expect.any(String)],
        ]);
        for (const worker of workers) expect(Date.parse(worker.lastHeartbeatAt!)).toBeGreaterThan(Date.now() - 60_000);
      }
      writeFileSync(gate, "");
      for (const host of hosts) expect((await host.done).exitCode, host.said()).toBe(0);
      // Under "cluster" host-a's tick ran the second task too, after the first.
      expect((await Promise.all(ids.map((id) => project.status(id)))).map((t) => t.status)).toEqual(["succeeded", "succeeded"]);
    });
  }

  for (const how of ["?listen=off", "LISTEN refused"] as const) {
    it(`with ${how} an idle worker still takes new work and \`wait\` still returns: both poll`, async () => {
      const project = useProject(onTestFinished, { journal: "postgres", tasks: { "noop.js": fixture("noop.js") }, env: { BGTASK_IDLE: "60s" } });
      const relay = how === "LISTEN refused" ? await listenRefusingRelay(project.env.BGTASK_JOURNAL!) : null;
      project.env.BGTASK_JOURNAL = relay ? relay.url : `${project.env.BGTASK_JOURNAL}&listen=off`;
      const first = await project.run("noop");
      const { worker } = (await project.waitForTask(first, (t) => t.status === "succeeded")).history[0]!;
      // Paused, so that `wait` has surely read it waiting (it says so) before anything it must be told of happens.
      await project.cli(["pause", "noop"]);
      const second = await project.run("noop", ["--no-worker"]);
      const waiting = execa(process.execPath, [BIN, "wait", second, "--timeout", "20s", "--json"], { cwd: project.dir, env: project.env, reject: false });
      let said = "";
      waiting.stderr?.on("data", (chunk: Buffer) => {
        said += chunk.toString("utf8");
      });
      await waitFor(
        () => said.includes("queue noop is paused"),
        20_000,
        () => `wait said: ${said}`,
      );
      expect((await project.cli(["resume", "noop"])).code).toBe(0);
      const waited = await waiting;
      expect(waited.exitCode, said).toBe(0);
      expect(JSON.parse(String(waited.stdout))).toMatchObject({ id: second, status: "succeeded" });
      // The idle worker took it: `wait` started none.
      expect((await project.status(second)).history[0]!.worker).toMatchObject({ pid: worker!.pid });
      expect(JSON.parse((await project.cli(["workers", "--json"])).stdout)).toHaveLength(1);
      if (relay) expect(relay.refused()).toBeGreaterThan(0);
    });
  }

  it("a bad listen= in the journal URL is refused with one sentence, exit 2", async () => {
    const project = useProject(onTestFinished, { journal: "postgres" });
    project.env.BGTASK_JOURNAL = `${project.env.BGTASK_JOURNAL}&listen=maybe`;
    const result = await project.cli(["list"]);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe("bgtask: the journal URL's listen=maybe must be listen=on (the default) or listen=off (poll, behind a transaction pooler)");
  });

  it("a bulk enqueue of 5,000 tasks in one call is one change notice (its ids would pass NOTIFY's 8000 bytes: it says anything may have changed)", async () => {
    const schema = `bulk_${process.pid}`;
    const location = `${url}${url!.includes("?") ? "&" : "?"}schema=${schema}`;
    const lock = { staleMs: 2_000, waitMs: 10_000 };
    const watcher = await openStore(location, lock);
    const writer = await openStore(location, lock);
    onTestFinished(async () => {
      await watcher.close();
      await writer.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    });
    const seen: Array<readonly string[] | null> = [];
    const watch = watcher.watchChanges((ids) => seen.push(ids));
    // The watcher listens once its LISTEN went through, queued on its connection before this read.
    await watcher.list({ limit: 1 });
    const input = { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null };
    const { tasks } = await writer.enqueue(
      Array.from({ length: 5_000 }, () => input),
      new Date(),
      null,
    );
    expect(tasks).toHaveLength(5_000);
    // Notices come in commit order: once the next one is here, every earlier one is.
    const [marker] = (await writer.enqueue([input], new Date(), null)).tasks;
    await waitFor(
      () => seen.some((ids) => ids?.includes(marker!.id) === true),
      10_000,
      () => `the watcher saw ${JSON.stringify(seen)}`,
    );
    expect(seen).toEqual([null, [marker!.id]]);
    watch.close();
  });

  it("a worker's drain sends a notice per 50 ms at most, not one per task, and the last one names the last tasks it ended", async () => {
    // Tries of 15 ms: each exchange ends and claims one task (no batches), so uncoalesced it would be one notice each.
    const project = useProject(onTestFinished, {
      journal: "postgres",
      tasks: {
        "short.js": `import { defineTask } from "bgtask"; export default defineTask({ async run() { await new Promise((r) => setTimeout(r, 15)); } });`,
      },
    });
    const count = 120;
    const ids = await runMany(project, "short", count, ["--no-worker"]);
    const watcher = await openStore(project.env.BGTASK_JOURNAL!, { staleMs: 2_000, waitMs: 10_000 });
    onTestFinished(() => watcher.close());
    const seen: Array<readonly string[] | null> = [];
    const watch = watcher.watchChanges((changed) => seen.push(changed));
    onTestFinished(() => watch.close());
    await watcher.list({ limit: 1 });
    const began = performance.now();
    // One worker: one store, whose notices are coalesced.
    const work = await project.cli(["work", "--once", "--concurrency", "1"]);
    const elapsedMs = performance.now() - began;
    expect(work.code, work.stderr).toBe(0);
    const told = () => new Set(seen.flatMap((changed) => changed ?? []));
    // The worker sends what it held back before it exits: every task's end is told.
    await waitFor(
      () => ids.every((id) => told().has(id)),
      10_000,
      () => `notices named ${told().size} of ${count} tasks`,
    );
    expect((await project.list(["--status", "succeeded"])).length).toBe(count);
    // Uncoalesced, each of the count exchanges would send one.
    expect(seen.length).toBeLessThan(count);
    expect(seen.length).toBeLessThanOrEqual(Math.ceil(elapsedMs / 50) + 2);
  });
});
