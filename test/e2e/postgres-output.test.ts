// A task's log and attachments on the PostgreSQL journal, seen from another host: a worker in one
// project's home writes them, and `status`, `logs`, `logs --follow` and `attachment get` in another
// home (another host's, sharing only the database) read them as they are written. Neither home
// holds a copy, and removing the task removes them from the database.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import pg from "pg";
import { describe, expect, it, onTestFinished } from "vitest";
import { BIN, useProject, waitFor } from "../helpers/project.ts";

const url = process.env.BGTASK_TEST_PG;

async function count(schema: string, table: string, id: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(`select count(*)::int as n from "${schema}".${table} where task_id = $1`, [id])).rows[0].n;
  } finally {
    await client.end();
  }
}

const REPORT = `
  import { existsSync } from "node:fs";
  import { defineTask } from "bgtask";
  export default defineTask<{ source: string; gate: string }>({
    async run(task) {
      console.log("first line, printed");
      task.log("second line, logged");
      await task.attach("data.bin", { path: task.context.source });
      while (!existsSync(task.context.gate)) await new Promise((resolve) => setTimeout(resolve, 20));
      console.error("last line, on stderr");
      return { message: "reported" };
    },
  });`;

describe.skipIf(!url)("PostgreSQL journal: logs and attachments from another host, the attachment limit", () => {
  it("status, logs, logs --follow and attachment get in another home read what a worker in this one wrote; remove deletes them", async () => {
    const here = useProject(onTestFinished, { journal: "postgres", tasks: { "report.ts": REPORT } });
    const journal = here.env.BGTASK_JOURNAL!;
    const there = useProject(onTestFinished, { journal: "postgres", env: { BGTASK_JOURNAL: journal } });
    const source = join(here.dir, "source.bin");
    const bytes = randomBytes(700 * 1024 + 3);
    writeFileSync(source, bytes);
    const gate = join(here.dir, "gate");
    const id = await here.run("report", ["--ctx", JSON.stringify({ source, gate })]);

    // Followed from the other host while the task runs: the first lines come before the task ends.
    const follow = execa(process.execPath, [BIN, "logs", id, "--follow"], { cwd: there.dir, env: there.env, reject: false, stdin: "ignore" });
    let seen = "";
    follow.stdout!.on("data", (chunk: Buffer) => (seen += chunk.toString()));
    await waitFor(
      () => seen.includes("second line, logged"),
      30_000,
      () => `the follower in the other home saw ${JSON.stringify(seen)}`,
    );
    expect(seen).toMatch(/Z stdout first line, printed\n/);
    expect(follow.exitCode).toBeNull();
    const running = await there.status(id);
    expect(running).toMatchObject({ status: "running", attachments: [{ name: "data.bin", size: bytes.length }] });
    writeFileSync(gate, "");
    const followed = await follow;
    expect(followed.exitCode).toBe(0);
    expect(String(followed.stdout)).toMatch(/Z stderr last line, on stderr$/m);

    const status = await there.cli(["status", id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/log \(last lines\)[\s\S]*last line, on stderr/);
    expect(status.stdout).toMatch(/data\.bin\s+700 KiB \(716803 B\)/);
    const logs = await there.cli(["logs", id]);
    expect(logs.stdout).toBe(String(followed.stdout));
    const output = join(there.dir, "fetched.bin");
    expect(await there.cli(["attachment", "get", id, "data.bin", "--output", output])).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(output).equals(bytes)).toBe(true);
    const piped = await execa(process.execPath, [BIN, "attachment", "get", id, "data.bin"], {
      cwd: there.dir,
      env: there.env,
      encoding: "buffer",
      stdin: "ignore",
    });
    expect(Buffer.from(piped.stdout).equals(bytes)).toBe(true);
    // Neither home keeps a copy.
    for (const home of [here.home, there.home]) {
      expect(existsSync(join(home, "logs", `${id}.log`))).toBe(false);
      expect(existsSync(join(home, "attachments"))).toBe(false);
    }

    const schema = new URL(journal).searchParams.get("schema")!;
    expect(await count(schema, "task_logs", id)).toBeGreaterThan(0);
    expect(await count(schema, "attachment_chunks", id)).toBe(3);
    expect(await there.cli(["remove", id])).toMatchObject({ code: 0 });
    expect(await count(schema, "task_logs", id)).toBe(0);
    expect(await count(schema, "attachment_chunks", id)).toBe(0);
  });

  it("an attachment over 64 MiB is refused to the executor with a sentence its log repeats; the task goes on", async () => {
    const project = useProject(onTestFinished, {
      journal: "postgres",
      tasks: {
        "big.ts": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              const refused = await task.attach("big.bin", new Uint8Array(64 * 1024 * 1024 + 1)).then(() => null, (error) => error.message);
              await task.attach("small.txt", "fits");
              return { result: { refused } };
            },
          });`,
      },
    });
    const id = await project.run("big");
    const done = await project.waitForTask(id, (t) => t.completed);
    expect(done.status).toBe("succeeded");
    const sentence =
      'attachment "big.bin" is refused: it has more than 67108864 bytes (67108865 seen), over the limit of 64 MiB an attachment may have on this journal';
    expect(done.result).toEqual({ refused: sentence });
    expect(done.attachments.map((a) => a.name)).toEqual(["small.txt"]);
    expect((await project.cli(["logs", id])).stdout).toContain(`task.attach() failed: ${sentence}`);
  });
});
