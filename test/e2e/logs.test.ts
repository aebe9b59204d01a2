// `bgtask logs`: stdout, stderr and task.log lines of every try, marked and timestamped;
// --follow streams while the task runs and ends with it. On every journal: a file per task in the
// home, or rows in PostgreSQL.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { expect, it, onTestFinished } from "vitest";
import { BIN, describeOnJournals, useProject, waitFor, type Project } from "../helpers/project.ts";
import { fixture } from "../helpers/fixtures.ts";

const open = (project: Project, gate: number) => writeFileSync(join(project.dir, `gate-${gate}`), "");
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (stdout|stderr|log {3}|bgtask) /;

describeOnJournals("bgtask logs", () => {
  it("--follow streams lines while the task runs, marks each try, and stops when the task is final", async () => {
    const project = useProject(onTestFinished, { tasks: { "gated.ts": fixture("gated.ts") } });
    const id = await project.run("gated", [
      "--ctx",
      JSON.stringify({ dir: project.dir, failTries: 1, stages: [{ print: "first line", log: "logged line" }, { print: "second line" }] }),
    ]);
    const follow = execa(process.execPath, [BIN, "logs", id, "--follow"], { cwd: project.dir, env: project.env, reject: false, stdin: "ignore" });
    let seen = "";
    follow.stdout!.on("data", (chunk: Buffer) => (seen += chunk.toString()));
    const exited = () => follow.exitCode !== null;

    await waitFor(
      () => seen.includes("first line") && seen.includes("logged line"),
      30_000,
      () => `no first line in ${JSON.stringify(seen)}`,
    );
    expect(exited()).toBe(false);
    expect(seen).not.toContain("second line");
    open(project, 0);
    await waitFor(
      () => seen.includes("second line"),
      30_000,
      () => `no second line in ${JSON.stringify(seen)}`,
    );
    expect(exited()).toBe(false);
    open(project, 1);

    const result = await follow;
    expect(result.exitCode).toBe(0);
    expect((await project.status(id)).status).toBe("succeeded");
    const lines = String(result.stdout).trim().split("\n");
    expect(lines[0]).toBe("── try 1 ──");
    expect(lines).toContain("── try 2 ──");
    expect(lines.indexOf("── try 2 ──")).toBeGreaterThan(lines.findIndex((l) => l.includes("try 1 fails on purpose")));
    for (const line of lines.filter((l) => !l.startsWith("── try"))) expect(line).toMatch(LINE);
    expect(lines.find((l) => l.includes("first line"))).toMatch(/Z stdout first line$/);
    expect(lines.find((l) => l.includes("logged line"))).toMatch(/Z log {4}logged line$/);

    // Without --follow: the same lines at once; --json keeps them raw.
    const again = await project.cli(["logs", id]);
    expect(again.stdout.trim().split("\n")).toEqual(lines);
    const json = JSON.parse((await project.cli(["logs", id, "--json"])).stdout) as { try: number; stream: string; text: string }[];
    expect(json).toContainEqual(expect.objectContaining({ try: 2, stream: "stdout", text: "second line" }));
  });

  it("prints stderr too, and refuses an unknown task with exit 2", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "err.js": `import { defineTask } from "bgtask"; export default defineTask({ run() { console.error("to stderr"); process.stdout.write("no newline at the end"); } });`,
      },
    });
    const id = await project.run("err");
    await project.waitForTask(id, (t) => t.completed);
    const logs = await project.cli(["logs", id, "--follow"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/Z stderr to stderr$/m);
    expect(logs.stdout).toMatch(/Z stdout no newline at the end$/m);
    const unknown = await project.cli(["logs", "99"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no task with id "99"');
  });

  it("a task that wrote nothing has no log (no file): logs prints nothing on stdout, status and remove still work", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.completed);
    expect(existsSync(join(project.home, "logs", `${id}.log`))).toBe(false);
    expect(await project.cli(["logs", id])).toMatchObject({ code: 0, stdout: "", stderr: `(no output: task ${id} has printed and logged nothing)` });
    expect(await project.cli(["logs", id, "--follow"])).toMatchObject({ code: 0, stdout: "" });
    expect(JSON.parse((await project.cli(["logs", id, "--json"])).stdout)).toEqual([]);
    expect(await project.cli(["status", id])).toMatchObject({ code: 0 });
    expect(await project.cli(["remove", id])).toMatchObject({ code: 0, stdout: "removed 1 task" });
  });
});
