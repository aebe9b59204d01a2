// The PostgreSQL journal when the database runs short: a full disk (its data folder on a tmpfs of
// the test's own, filled mid-drain), its connections used up under `bgtask work`, ten `migrate` at
// once, and a schema migrated past what the workers know. Commands say one sentence and exit 3;
// workers wait, and go on by themselves once the database has room again.
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { SCHEMA_VERSION } from "../../src/journal/postgres/schema.ts";
import { WORKER_ENTRY } from "../helpers/hosts.ts";
import { alive, BIN, useProject, waitFor } from "../helpers/project.ts";
import { mayMountClusters, startCluster } from "../helpers/postgres.ts";
import { summary } from "../helpers/stress.ts";

const url = process.env.BGTASK_TEST_PG;

const QUICK = `
  import { defineTask } from "bgtask";
  export default defineTask<{ ms?: number }>({
    async run(task) {
      await new Promise((r) => setTimeout(r, Number(task.context.ms ?? 20)));
      return { message: "done" };
    },
  });`;

const GATED = `
  import { defineTask } from "bgtask";
  import { existsSync } from "node:fs";
  export default defineTask<{ gate: string }>({
    async run(task) {
      while (!existsSync(task.context.gate)) await new Promise((r) => setTimeout(r, 20));
      return { message: "done" };
    },
  });`;

/** A stack trace's frame, as node prints them: no PostgreSQL failure may show one. */
const STACK_FRAME = /^\s+at /m;

async function sql(connectionString: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

describe.skipIf(!mayMountClusters())("PostgreSQL journal: its disk fills up mid-drain", () => {
  it("commands exit 3 with one sentence, the worker waits instead of crashing, and the backlog drains by itself once the space is freed", async () => {
    const cluster = await startCluster({ tmpfsMb: 64, settings: { max_wal_size: "32MB", min_wal_size: "2MB" } });
    onTestFinished(() => cluster.stop());
    const project = useProject(onTestFinished, {
      tasks: { "quick.ts": QUICK },
      config: { concurrency: 2 },
      env: { BGTASK_JOURNAL: `${cluster.url}?schema=full`, BGTASK_IDLE: "60s" },
    });
    const total = 300;
    const contexts = join(project.dir, "contexts.jsonl");
    writeFileSync(contexts, `${Array.from({ length: total }, () => JSON.stringify({ ms: 20 })).join("\n")}\n`);
    const enqueued = await project.cli(["run", "quick", "--each", contexts]);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const succeeded = async () => (await project.list(["--status", "succeeded", "--limit", "1000"])).length;
    await waitFor(
      async () => (await succeeded()) >= 10,
      60_000,
      () => "the drain never began",
      200,
    );
    const workers = [...new Set((await project.list(["--status", "running"])).map((t) => t.worker!.pid))];
    expect(workers.length).toBeGreaterThan(0);

    const fill = join(cluster.data, "..", "fill");
    await execa("dd", ["if=/dev/zero", `of=${fill}`, "bs=1M"], { reject: false });
    const workerLog = join(project.home, "logs", "worker.log");
    await waitFor(
      () => existsSync(workerLog) && /out of disk space .*is retried until the database takes it/.test(readFileSync(workerLog, "utf8")),
      60_000,
      () => `no worker said it waits for space; the worker log: ${existsSync(workerLog) ? readFileSync(workerLog, "utf8").slice(-2_000) : "none"}`,
      200,
    );
    const stuckAt = await succeeded();
    // A context too big for the pages left: its row must extend a file of the table.
    const big = randomBytes(48 * 1024).toString("base64");
    const run = await project.cli(["run", "quick", `big=${big}`, "--no-worker"]);
    expect(run.code, run.stderr).toBe(3);
    expect(run.stderr).toMatch(
      /^bgtask: the PostgreSQL journal at postgresql:\/\/bgtask@127\.0\.0\.1:\d+\/postgres is out of disk space \(could not [^\n]*\); free space and try again$/,
    );
    const json = await project.cli(["run", "quick", `big=${big}`, "--no-worker", "--json"]);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "EUNAVAILABLE", message: expect.stringMatching(/out of disk space/) } });
    // Reading needs no new space: it works, or says why in one sentence.
    const list = await project.cli(["list"]);
    expect([0, 3]).toContain(list.code);
    if (list.code === 3) expect(list.stderr).toMatch(/^bgtask: [^\n]*$/);
    for (const result of [run, json, list]) expect(result.stderr).not.toMatch(STACK_FRAME);
    for (const pid of workers) expect(alive(pid), `worker ${pid} is gone while the disk is full`).toBe(true);

    rmSync(fill);
    let done = 0;
    await waitFor(
      async () => (done = await succeeded()) === total,
      120_000,
      () => `only ${done} of ${total} succeeded after the space was freed`,
      500,
    );
    const said = readFileSync(workerLog, "utf8");
    expect(said).not.toMatch(/ failed: /);
    expect(said).not.toMatch(STACK_FRAME);
    expect(said).toMatch(/the journal could be written again after \d+s/);
    for (const pid of workers) expect(alive(pid), `worker ${pid} did not outlive the full disk`).toBe(true);
    summary("postgres disk full", `${stuckAt} of ${total} done when the disk filled; the rest drained by the same workers once it was freed`);
  }, 240_000);
});

describe.skipIf(!mayMountClusters())("PostgreSQL journal: max_connections used up under `bgtask work`", () => {
  it("replaces its failing worker after a growing delay, one line each and no stack, and runs tasks again once connections are free", async () => {
    const cluster = await startCluster({ settings: { max_connections: "8", superuser_reserved_connections: "0" } });
    onTestFinished(() => cluster.stop());
    const project = useProject(onTestFinished, {
      tasks: { "quick.ts": QUICK },
      env: { BGTASK_JOURNAL: `${cluster.url}?schema=crowded` },
    });
    const work = execa(process.execPath, [BIN, "work", "--concurrency", "1"], {
      cwd: project.dir,
      env: { ...project.env },
      reject: false,
      stdin: "ignore",
    });
    onTestFinished(() => {
      if (work.exitCode === null) work.kill("SIGKILL");
    });
    let stderr = "";
    work.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const first = await project.run("quick", ["--no-worker"]);
    const ran = await project.waitForTask(first, (t) => t.status === "succeeded");
    const workerPid = ran.history.at(-1)!.worker!.pid;

    // Every connection the server has left is taken, and taken again as soon as one is freed: the
    // killed worker's are gone before its replacement starts (after its delay and Node's start-up).
    const held: pg.Client[] = [];
    let hogging = true;
    onTestFinished(() => {
      hogging = false;
      return Promise.all(held.map((c) => c.end().catch(() => undefined))).then(() => undefined);
    });
    const take = async (): Promise<boolean> => {
      const client = new pg.Client({ connectionString: cluster.url });
      client.on("error", () => undefined);
      try {
        await client.connect();
        held.push(client);
        return true;
      } catch (error) {
        expect((error as { code?: string }).code).toBe("53300");
        return false;
      }
    };
    while (await take());
    const hog = (async () => {
      while (hogging) if (!(await take())) await new Promise((r) => setTimeout(r, 10));
    })();
    process.kill(workerPid, "SIGKILL");
    const restarts = () => stderr.split("\n").filter((line) => line.includes("starting another in"));
    await waitFor(
      () => restarts().filter((line) => line.includes("has no connection to spare")).length >= 5,
      60_000,
      () => `bgtask work said: ${stderr.slice(-2_000)}`,
      100,
    );
    const refused = restarts().filter((line) => line.includes("has no connection to spare"));
    for (const line of refused)
      expect(line).toMatch(
        /^bgtask: worker \d+ failed: the PostgreSQL journal at \S+ has no connection to spare \([^)]*\); close some \(or raise max_connections\) and try again; starting another in \d+\.\ds$/,
      );
    const delays = refused.map((line) => Number(/starting another in (\d+\.\d)s$/.exec(line)![1]));
    // Jittered within the upper half of a doubling step: each wait longer than the one before.
    for (let i = 1; i < delays.length; i += 1) expect(delays[i]!, `delays ${delays.join(", ")}`).toBeGreaterThan(delays[i - 1]!);
    expect(stderr).not.toMatch(STACK_FRAME);

    hogging = false;
    await hog;
    await Promise.all(held.splice(0).map((c) => c.end()));
    const second = await project.run("quick", ["--no-worker"]);
    await project.waitForTask(second, (t) => t.status === "succeeded", 60_000);
    work.kill("SIGTERM");
    expect((await work).exitCode).toBe(0);
    summary(
      "postgres connections used up",
      `${refused.length} replacements refused, after ${delays.map((d) => `${d}s`).join(", ")}; a task ran once connections were free`,
    );
  }, 180_000);
});

describe.skipIf(!mayMountClusters())("PostgreSQL journal: a detached worker refused its first connection", () => {
  it("waits for one, saying so in the worker log, and runs the task once its role may connect again", async () => {
    const cluster = await startCluster();
    onTestFinished(() => cluster.stop());
    await sql(cluster.url, "create role crowd login; grant create on database postgres to crowd");
    const project = useProject(onTestFinished, {
      tasks: { "quick.ts": QUICK },
      env: { BGTASK_JOURNAL: `${cluster.url.replace("bgtask@", "crowd@")}?schema=crowd` },
    });
    const id = await project.run("quick", ["--no-worker"]);
    await sql(cluster.url, "alter role crowd connection limit 0");
    const workerLog = join(project.home, "logs", "worker.log");
    mkdirSync(dirname(workerLog), { recursive: true });
    const worker = execa(process.execPath, [WORKER_ENTRY, "by-hand"], {
      cwd: project.dir,
      env: { ...project.env, BGTASK_ROOT: project.dir, BGTASK_HOME: project.home },
      stdin: "ignore",
      stdout: "ignore",
      stderr: { file: workerLog, append: true },
      reject: false,
    });
    onTestFinished(() => {
      if (worker.exitCode === null) worker.kill("SIGKILL");
    });
    await waitFor(
      () =>
        existsSync(workerLog) &&
        /has no connection to spare \(too many connections for role "crowd"\); the journal operation \(open\) is retried until the database takes it/.test(
          readFileSync(workerLog, "utf8"),
        ),
      30_000,
      () => `the worker did not say it waits; its log: ${existsSync(workerLog) ? readFileSync(workerLog, "utf8") : "none"}; exit ${worker.exitCode}`,
      100,
    );
    expect(worker.exitCode).toBeNull();
    await sql(cluster.url, "alter role crowd connection limit -1");
    await project.waitForTask(id, (t) => t.status === "succeeded", 60_000);
    expect(readFileSync(workerLog, "utf8")).not.toMatch(/ failed: /);
  }, 120_000);
});

describe.skipIf(!url)("PostgreSQL journal: migrations at once, and a schema newer than the workers", () => {
  it("ten `bgtask migrate` at once on a fresh schema: one migrates from version 0, nine find it up to date", async () => {
    const project = useProject(onTestFinished, { journal: "postgres" });
    const results = await Promise.all(Array.from({ length: 10 }, () => project.cli(["migrate"])));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const outputs = results.map((r) => r.stdout.trim());
    expect(outputs.filter((o) => o.endsWith(`: migrated from version 0 to ${SCHEMA_VERSION}`))).toHaveLength(1);
    expect(outputs.filter((o) => o.endsWith(`is up to date (version ${SCHEMA_VERSION})`))).toHaveLength(9);
  });

  it("a read-only database (default_transaction_read_only, as on a standby): reading commands work, a run exits 3 with one sentence", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "quick.ts": QUICK } });
    const id = await project.run("quick", ["--no-worker"]);
    const readOnly = { BGTASK_JOURNAL: `${project.env.BGTASK_JOURNAL}&options=${encodeURIComponent("-c default_transaction_read_only=on")}` };
    const list = await project.cli(["list", "--json"], { env: readOnly });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((t) => t.id)).toEqual([id]);
    const run = await project.cli(["run", "quick", "--no-worker"], { env: readOnly });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^bgtask: the PostgreSQL journal at \S+ is read-only \([^\n]*\); point the journal URL at the primary, or make the database writable, and try again$/,
    );
    const json = await project.cli(["run", "quick", "--no-worker", "--json"], { env: readOnly });
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "EUNAVAILABLE", message: expect.stringMatching(/is read-only/) } });
    expect((await project.list()).map((t) => t.id)).toEqual([id]);
  });

  it("a worker that meets a schema migrated past what it knows records its try, claims nothing more, and exits with one line", async () => {
    const project = useProject(onTestFinished, {
      journal: "postgres",
      tasks: { "gated.ts": GATED },
      config: { concurrency: 1 },
      env: { BGTASK_IDLE: "60s", BGTASK_HEARTBEAT: "300ms" },
    });
    const schema = new URL(project.env.BGTASK_JOURNAL!).searchParams.get("schema")!;
    const gate = join(project.dir, "gate");
    const running = await project.run("gated", [`gate=${gate}`]);
    // Once it has beaten, its supervisor thread has opened the journal (a later open would be refused on the newer schema, and say so too).
    const started = await project.waitForTask(running, (t) => t.status === "running" && t.heartbeatAt !== t.startedAt);
    const worker = started.worker!.pid;
    const queued = [await project.run("gated", [`gate=${gate}`, "--no-worker"]), await project.run("gated", [`gate=${gate}`, "--no-worker"])];

    await sql(url!, `update "${schema}".meta set value = '${SCHEMA_VERSION + 1}' where key = 'version'`);
    writeFileSync(gate, "");
    await waitFor(
      () => !alive(worker),
      30_000,
      () => `the worker ${worker} did not exit`,
    );
    const said = readFileSync(join(project.home, "logs", "worker.log"), "utf8");
    const lines = said.split("\n").filter((line) => line.includes("newer than this bgtask knows"));
    expect(lines, said).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `bgtask worker ${worker}: the journal's schema ${schema} is at version ${SCHEMA_VERSION + 1}, newer than this bgtask knows \\(${SCHEMA_VERSION}\\); upgrade bgtask to use it: this worker claims nothing more and exits once what it holds is recorded$`,
      ),
    );
    expect(said).not.toMatch(/ failed: /);

    await sql(url!, `update "${schema}".meta set value = '${SCHEMA_VERSION}' where key = 'version'`);
    const tasks = await project.list();
    const status = new Map(tasks.map((t) => [t.id, t.status]));
    expect(status.get(running)).toBe("succeeded");
    for (const id of queued) expect(status.get(id)).toBe("queued");
  }, 60_000);
});
