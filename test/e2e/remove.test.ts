// `bgtask remove`: tasks go with their logs and attachments; a running task is refused; --finished
// and retention compact the history into a new file.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { describeOnJournals, useProject, waitFor } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

const ATTACHES = `
  import { defineTask } from "bgtask";
  export default defineTask({
    async run(task) {
      task.log("a line");
      await task.attach("report.txt", "hello");
      return { message: "attached" };
    },
  });`;

describe("remove", () => {
  it("removes tasks with their logs and attachments, refuses a running one, and --finished empties the history", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "attaches.js": ATTACHES, "noop.js": fixture("noop.js"), "slow.ts": fixture("slow.ts") },
    });
    const attached = await project.run("attaches");
    await project.waitForTask(attached, (t) => t.completed);
    const log = join(project.home, "logs", `${attached}.log`);
    const folder = join(project.home, "attachments", attached);
    expect(existsSync(log) && existsSync(folder)).toBe(true);

    expect(await project.cli(["remove", attached])).toMatchObject({ code: 0, stdout: "removed 1 task" });
    expect((await project.cli(["status", attached])).code).toBe(2);
    expect(existsSync(log) || existsSync(folder)).toBe(false);

    const slow = await project.run("slow", ["ms=30000"]);
    const done = await project.run("noop");
    await project.waitForTask(slow, (t) => t.status === "running");
    // Only the slow one may be running when the removal is refused (a loaded machine runs `done` late).
    await project.waitForTask(done, (t) => t.completed);
    const refused = await project.cli(["remove", done, slow]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(new RegExp(`task ${slow} is running; cancel it first`));
    expect((await project.status(done)).id).toBe(done);
    expect((await project.cli(["cancel", slow])).code).toBe(0);

    // The cancelled one ends once its worker's supervisor sees the request: on a loaded machine after `done`.
    await project.waitForTask(slow, (t) => t.completed);
    expect(await project.cli(["remove", "--finished", "--older-than", "1h", "--json"])).toMatchObject({ code: 0 });
    expect(await project.list()).toHaveLength(2);
    const all = await project.cli(["remove", "--finished", "--json"]);
    expect(JSON.parse(all.stdout)).toEqual({ removed: [slow, done] });
    expect(await project.list()).toEqual([]);
    const doc = await project.journalState();
    // Compacted into a new generation file; the replaced ones are gone.
    expect(doc.history).toEqual({ file: expect.stringMatching(/^history\.\d+\.jsonl$/), bytes: 0 });
    expect(readdirSync(project.home).filter((name) => name.startsWith("history"))).toEqual([doc.history.file]);
  });

  it("retention in config prunes finished tasks on tick", async () => {
    const project = useProject(onTestFinished, { config: { retention: "1s" }, tasks: { "noop.js": fixture("noop.js") } });
    const id = await project.run("noop", ["--no-worker"]);
    expect(await project.cli(["tick"])).toMatchObject({ code: 0, stdout: "" });
    expect((await project.status(id)).status).toBe("succeeded");
    await waitFor(async () => (await project.cli(["tick"])).code === 0 && (await project.cli(["status", id])).code === 2, 15_000);
    expect(existsSync(join(project.home, "logs", `${id}.log`))).toBe(false);
  });
});

describeOnJournals("remove --finished --executor", () => {
  it("removes only that executor's finished tasks, with their files; --dry-run lists them; a bad name or pairing is one sentence, exit 2", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "attaches.js": ATTACHES } });
    const ids = [await project.run("noop"), await project.run("attaches"), await project.run("noop")];
    for (const id of ids) await project.waitForTask(id, (t) => t.completed);
    const dry = await project.cli(["remove", "--finished", "--executor", "noop", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(ids[0]!);
    expect(dry.stdout).not.toContain("attaches");
    expect((await project.list()).map((t) => t.id).sort()).toEqual([...ids].sort());

    const removed = await project.cli(["remove", "--finished", "--executor", "noop", "--json"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect((JSON.parse(removed.stdout) as { removed: string[] }).removed.sort()).toEqual([ids[0], ids[2]].sort());
    expect((await project.list()).map((t) => t.id)).toEqual([ids[1]]);
    expect((await project.cli(["attachment", "get", ids[1]!, "report.txt"])).stdout).toBe("hello");

    const unknown = await project.cli(["remove", "--finished", "--executor", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^bgtask: .*nope/);
    const paired = await project.cli(["remove", ids[1]!, "--executor", "attaches"]);
    expect([paired.code, paired.stderr]).toEqual([2, "bgtask: --executor goes with --finished"]);
    expect((await project.list()).map((t) => t.id)).toEqual([ids[1]]);
  });
});
