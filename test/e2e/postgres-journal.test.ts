// The PostgreSQL journal from the outside: its schema made on first use (once, whoever starts at
// the same time) and by `bgtask migrate`, checked by `doctor`, refused when newer than this build,
// a database that is down said in one sentence, and pg loaded by no process of a file journal.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { SCHEMA_VERSION } from "../../src/journal/postgres/schema.ts";
import { useProject } from "../helpers/project.ts";

const url = process.env.BGTASK_TEST_PG;

async function sql(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const schemaOf = (journal: string) => new URL(journal).searchParams.get("schema")!;

describe.skipIf(!url)("PostgreSQL journal: schema, doctor, a database that is down", () => {
  it("is made once when ten commands start at once on a fresh schema, then `migrate` finds it up to date and doctor healthy", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "noop.js": fixture("noop.js") } });
    const journal = project.env.BGTASK_JOURNAL!;
    const runs = await Promise.all(Array.from({ length: 10 }, () => project.cli(["run", "noop", "--no-worker"])));
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(new Set(runs.map((r) => r.stdout.trim())).size).toBe(10);
    const version = await sql(`select value from "${schemaOf(journal)}".meta where key = 'version'`);
    expect(version.rows).toEqual([{ value: SCHEMA_VERSION }]);

    const migrate = await project.cli(["migrate"]);
    expect(migrate).toMatchObject({ code: 0, stdout: expect.stringContaining(`is up to date (version ${SCHEMA_VERSION})`) });
    const doctor = await project.cli(["doctor", "--json"]);
    expect(doctor.code).toBe(0);
    expect(JSON.parse(doctor.stdout)).toMatchObject({
      healthy: true,
      files: [
        { role: "schema", status: "ok" },
        { role: "table", notes: ["10 tasks read"] },
      ],
    });
    const repair = await project.cli(["doctor", "--repair"]);
    expect(repair.code).toBe(2);
    expect(repair.stderr).toMatch(/^bgtask: doctor --repair rebuilds a journal folder; a PostgreSQL journal is recovered by PostgreSQL itself/);
  });

  it("`bgtask migrate` makes the schema; a schema newer than this bgtask is refused with exit 3 and a sentence, and doctor says so", async () => {
    const project = useProject(onTestFinished, { journal: "postgres" });
    const migrate = await project.cli(["migrate", "--json"]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ from: 0, to: SCHEMA_VERSION });
    await sql(`update "${schemaOf(project.env.BGTASK_JOURNAL!)}".meta set value = '${SCHEMA_VERSION + 1}' where key = 'version'`);
    const list = await project.cli(["list"]);
    expect(list.code).toBe(3);
    expect(list.stderr).toBe(
      `bgtask: the journal's schema ${schemaOf(project.env.BGTASK_JOURNAL!)} is at version ${SCHEMA_VERSION + 1}, newer than this bgtask knows (${SCHEMA_VERSION}); upgrade bgtask to use it`,
    );
    const json = await project.cli(["list", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "ESCHEMA", message: expect.stringContaining("newer than this bgtask knows") } });
    const doctor = await project.cli(["doctor"]);
    expect(doctor.code).toBe(3);
    expect(doctor.stdout).toContain(`newer than this bgtask knows (${SCHEMA_VERSION})`);
  });

  it("a schema an older bgtask made (version 1: tasks and a tick holder) is brought up to date by migrate: tasks kept, unpinned, the holder the cluster's, logs and attachments tables made", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "noop.js": fixture("noop.js") } });
    const id = await project.run("noop", ["--no-worker"]);
    const s = `"${schemaOf(project.env.BGTASK_JOURNAL!)}"`;
    // Version 1 as it was: no logs, attachments, counters or events tables, no pin column, one tick row for all.
    await sql(`drop table ${s}.task_logs; drop table ${s}.attachment_chunks; drop table ${s}.counters; drop table ${s}.events;
      alter table ${s}.tasks drop column pinned_host;
      drop table ${s}.tick; create table ${s}.tick (only_one boolean primary key default true check (only_one), holder jsonb not null);
      insert into ${s}.tick (holder) values ('{"process": {"pid": 1, "host": "old"}, "since": "x", "expiresAt": "y"}');
      update ${s}.meta set value = '1' where key = 'version'`);
    expect((await project.cli(["doctor"])).stdout).toContain("the schema is at version 1; `bgtask migrate` brings it to");
    const migrate = await project.cli(["migrate", "--json"]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(JSON.parse(migrate.stdout)).toMatchObject({ from: 1, to: SCHEMA_VERSION });
    expect((await sql(`select scope, holder->'process'->>'host' as host from ${s}.tick`)).rows).toEqual([{ scope: "cluster", host: "old" }]);
    expect((await sql(`select id::text, pinned_host from ${s}.tasks`)).rows).toEqual([{ id, pinned_host: null }]);
    expect((await sql(`select count(*)::int as n from ${s}.task_logs`)).rows).toEqual([{ n: 0 }]);
    expect(await project.status(id)).toMatchObject({ status: "queued", pinnedHost: null });
  });

  it("a claim reads the head of a deep queue in claim order, not every queued task: a drain of 10,000 reads a few index entries per task", async () => {
    const project = useProject(onTestFinished, { journal: "postgres", tasks: { "noop.js": fixture("noop.js") } });
    const count = 10_000;
    const file = join(project.dir, "each.jsonl");
    writeFileSync(file, "{}\n".repeat(count));
    expect((await project.cli(["run", "noop", "--each", file, "--no-worker"])).code).toBe(0);
    const schema = schemaOf(project.env.BGTASK_JOURNAL!);
    // What the claim's index handed out, as PostgreSQL counts it (a backend reports its counts when it ends).
    const read = async () =>
      Number((await sql(`select idx_tup_read from pg_stat_user_indexes where schemaname = '${schema}' and indexrelname = 'tasks_ready'`)).rows[0].idx_tup_read);
    const before = await read();
    const work = await project.cli(["work", "--once"]);
    expect(work.code, work.stderr).toBe(0);
    expect((await project.list(["--status", "succeeded"])).length).toBe(count);
    // Sorting the runnable tasks for each claim read all that were left: about count² / 2 / batch, some 1,500,000 here.
    expect(await read()).toBeGreaterThan(before);
    expect((await read()) - before).toBeLessThan(count * 30);
  });

  it("a database that is down: exit 3, one sentence, no stack trace, nothing else", async () => {
    const project = useProject(onTestFinished, { env: { BGTASK_JOURNAL: "postgres://bgtask@127.0.0.1:1/nowhere" } });
    for (const args of [["list"], ["run", "noop"], ["status", "1"], ["doctor"], ["migrate"]]) {
      const result = await project.cli(args);
      expect(result.code, args.join(" ")).toBe(3);
      expect(result.stderr).toMatch(/^bgtask: cannot reach the PostgreSQL journal at postgres:\/\/bgtask@127\.0\.0\.1:1\/nowhere: .*ECONNREFUSED[^\n]*$/);
    }
    const json = await project.cli(["list", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: "EUNAVAILABLE" } });
  });

  it("loads pg only for a PostgreSQL journal", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    // Each command writes the modules it loaded as it exits.
    const preload = join(project.dir, "loaded.cjs");
    const out = join(project.dir, "loaded.json");
    writeFileSync(preload, `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`);
    const loadedPg = async (env: Record<string, string>) => {
      const result = await project.cli(["list"], { env: { NODE_OPTIONS: `--require ${preload}`, ...env } });
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(readFileSync(out, "utf8")) as string[]).some((path) => /node_modules\/pg\//.test(path));
    };
    expect(await loadedPg({})).toBe(false);
    expect(await loadedPg({ BGTASK_JOURNAL: `${url}?schema=loads_${process.pid}` })).toBe(true);
  });
});
