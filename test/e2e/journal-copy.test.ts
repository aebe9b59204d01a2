// `bgtask journal copy`: a file journal copied to PostgreSQL and back keeps every task (ids,
// history, every field), its log and its attachments byte for byte, and the paused queues; it is
// refused, changing nothing, while a worker is live on the source or when the destination already
// has one of the ids; bad input exits 2.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { useProject, waitFor, type Project } from "../helpers/project.ts";

const url = process.env.BGTASK_TEST_PG;
const freshSchema = () => `${url}${url!.includes("?") ? "&" : "?"}schema=copy_${randomBytes(6).toString("hex")}`;

const REPORT = `
  import { defineTask } from "bgtask";
  export default defineTask<{ source: string }>({
    retry: { tries: 1, interval: "10ms" },
    async run(task) {
      console.log("try", task.tries, "prints");
      console.error("and to stderr, ünïcode");
      task.log("logged", { n: task.tries });
      if (task.tries === 1) throw new Error("first try fails on purpose");
      await task.attach("report.csv", "id,name\\n1,Ada\\n");
      await task.attach("blob.bin", { path: task.context.source });
      await task.progress(100, "reported");
      return { message: "reported", result: { rows: 1 } };
    },
  });`;

async function records(project: Project, journal: string): Promise<TaskRecord[]> {
  const listed = await project.cli(["list", "--json", "--journal", journal]);
  expect(listed.code, listed.stderr).toBe(0);
  return (JSON.parse(listed.stdout) as TaskRecord[]).sort((a, b) => Number(a.id) - Number(b.id));
}

/** The records without what says where a journal keeps attachments. */
const withoutPaths = (tasks: TaskRecord[]) => tasks.map((t) => ({ ...t, attachments: t.attachments.map(({ path: _path, ...rest }) => rest) }));

async function noWorkers(project: Project): Promise<void> {
  await waitFor(
    async () => JSON.parse((await project.cli(["workers", "--json"])).stdout).length === 0,
    30_000,
    () => "the worker never retired",
  );
}

describe.skipIf(!url)("bgtask journal copy", () => {
  it("file → PostgreSQL → another schema → file keeps tasks, history, logs and attachments byte for byte, and the paused queue", async () => {
    const project = useProject(onTestFinished, { journal: "file", tasks: { "report.ts": REPORT, "noop.js": fixture("noop.js") } });
    const source = join(project.dir, "source.bin");
    writeFileSync(source, randomBytes(600 * 1024 + 11));
    const report = await project.run("report", [`source=${JSON.stringify(source)}`]);
    const later = await project.run("noop", ["--delay", "1h"]);
    const cancelled = await project.run("noop", ["--delay", "1h"]);
    expect((await project.cli(["cancel", cancelled])).code).toBe(0);
    expect((await project.cli(["pause", "noop"])).code).toBe(0);
    await project.waitForTask(report, (t) => t.status === "succeeded");
    await noWorkers(project);
    const original = await records(project, ".bgtask");
    expect(original.find((t) => t.id === report)!.history.length).toBeGreaterThanOrEqual(2);

    const pg = freshSchema();
    const there = await project.cli(["journal", "copy", "--from", ".bgtask", "--to", pg, "--json"]);
    expect(there.code, there.stderr).toBe(0);
    expect(JSON.parse(there.stdout)).toMatchObject({
      tasks: 3,
      logs: 1,
      attachments: 2,
      attachmentBytes: 600 * 1024 + 11 + 14,
      pausedQueues: ["noop"],
      schedules: 0,
    });
    expect(withoutPaths(await records(project, pg))).toEqual(withoutPaths(original));
    expect((await project.cli(["logs", report, "--journal", pg])).stdout).toBe((await project.cli(["logs", report])).stdout);
    const fetched = join(project.dir, "fetched.bin");
    expect((await project.cli(["attachment", "get", report, "blob.bin", "--journal", pg, "--output", fetched])).code).toBe(0);
    expect(readFileSync(fetched).equals(readFileSync(source))).toBe(true);
    expect((await project.cli(["pause", "--journal", pg])).stdout).toContain("noop");

    // To another schema of the same database, then back to a folder from there.
    const pg2 = freshSchema();
    expect((await project.cli(["journal", "copy", "--from", pg, "--to", pg2])).code).toBe(0);
    expect(withoutPaths(await records(project, pg2))).toEqual(withoutPaths(original));
    const back = await project.cli(["journal", "copy", "--from", pg2, "--to", "back"]);
    expect(back).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^copied 3 tasks with 1 log \(.*\), 2 attachments \(.*\), 1 paused queue, 0 schedule states from postgres.* to .*back/),
    });
    const copied = await records(project, "back");
    expect(withoutPaths(copied)).toEqual(withoutPaths(original));
    expect(copied.find((t) => t.id === report)!.attachments.map((a) => a.path)).toEqual(
      ["report.csv", "blob.bin"].map((name) => join(project.dir, "back", "attachments", report, name)),
    );
    const bytes = (home: string, ...path: string[]) => readFileSync(join(project.dir, home, ...path));
    expect(bytes("back", "logs", `${report}.log`).equals(bytes(".bgtask", "logs", `${report}.log`))).toBe(true);
    for (const name of ["report.csv", "blob.bin"])
      expect(bytes("back", "attachments", report, name).equals(bytes(".bgtask", "attachments", report, name))).toBe(true);

    // New tasks in a copy come after the copied ids.
    expect((await project.cli(["run", "noop", "--no-worker", "--journal", pg])).stdout.trim()).toBe(String(Number(cancelled) + 1));
    expect([later, cancelled]).toEqual([String(Number(report) + 1), String(Number(report) + 2)]);
  });

  it("is refused while a worker is live on the source, and into a destination that has one of the ids: exit 1, nothing copied", async () => {
    const project = useProject(onTestFinished, { journal: "file", tasks: { "gated.ts": fixture("gated.ts"), "noop.js": fixture("noop.js") } });
    const running = await project.run("gated", ["--ctx", JSON.stringify({ dir: project.dir, stages: [{ print: "waiting" }] })]);
    await project.waitForTask(running, (t) => t.status === "running");
    const pg = freshSchema();
    const busy = await project.cli(["journal", "copy", "--from", ".bgtask", "--to", pg]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      /^bgtask: the source journal .*journal\.json is in use \(1 worker\(s\) may still be running on it\); stop its workers .* Nothing was copied$/,
    );
    expect(await records(project, pg)).toEqual([]);
    writeFileSync(join(project.dir, "gate-0"), "");
    await project.waitForTask(running, (t) => t.completed);
    await noWorkers(project);

    expect((await project.cli(["run", "noop", "--no-worker", "--journal", pg])).code).toBe(0);
    const clash = await project.cli(["journal", "copy", "--from", ".bgtask", "--to", pg, "--json"]);
    expect(clash.code).toBe(1);
    expect(JSON.parse(clash.stdout)).toEqual({
      error: { code: "EJOURNALCLASH", message: expect.stringMatching(/already has task 1; copy into a journal without those ids.*Nothing was copied$/) },
    });
    expect((await records(project, pg)).map((t) => t.executor)).toEqual(["noop"]);
  });

  it("bad input exits 2 with one sentence", async () => {
    const project = useProject(onTestFinished, { journal: "file" });
    const cases: [string[], RegExp][] = [
      [["journal", "copy", "--from", ".bgtask"], /needs both --from JOURNAL and --to JOURNAL/],
      [["journal", "copy", "--from", ".bgtask", "--to", ".bgtask"], /--from and --to name the same journal/],
      [["journal", "copy", "--from", url!, "--to", `${url}${url!.includes("?") ? "&" : "?"}schema=bgtask`], /--from and --to name the same journal/],
      [["journal", "copy", "--from", ".bgtask", "--to", "mysql://db/app"], /is not a folder nor a supported URL/],
      [["journal", "copy", "--from", ".bgtask", "--to", "x", "--bogus"], /unknown option '--bogus'/],
    ];
    for (const [args, says] of cases) {
      const result = await project.cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr).toMatch(/^bgtask: [^\n]+$/);
      expect(result.stderr).toMatch(says);
    }
  });
});
