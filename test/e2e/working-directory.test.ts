// Executors run with the project root as their working directory, whoever starts them and
// wherever the command was typed: a worker, or a tick cron starts in another folder. A relative
// path in the context is therefore read from the root, and `run` says so when that is not what
// the user meant.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { useProject, waitFor } from "../helpers/project.ts";

const READS_FILE = `
  import { readFileSync } from "node:fs";
  import { defineTask } from "bgtask";
  export default defineTask({
    run: (task) => ({ message: process.cwd() + ": " + readFileSync(task.context.file, "utf8").trim() }),
  });`;

describe("the working directory of executors", () => {
  it("is the project root in a worker and in a tick started elsewhere; run notes a path that only exists here", async () => {
    const project = useProject(onTestFinished, { tasks: { "import-users.js": READS_FILE } });
    const data = join(project.dir, "app", "data");
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, "users.csv"), "from app/data");
    writeFileSync(join(project.dir, "root.csv"), "from the root");

    const fromData = await project.cli(["run", "import-users", "file=users.csv", "--no-worker"], { cwd: data });
    expect(fromData.code).toBe(0);
    expect(fromData.stderr).toBe(
      `bgtask: note: file=users.csv is a path relative to this folder, but executors run in the project root ${project.dir}, where it does not exist; pass file=${join(data, "users.csv")}`,
    );
    const relative = fromData.stdout.trim();
    const absolute = await project.cli(["run", "import-users", `file=${join(data, "users.csv")}`, "--no-worker"], { cwd: data });
    expect(absolute).toMatchObject({ code: 0, stderr: "" });
    const rooted = await project.cli(["run", "import-users", "file=root.csv", "--no-worker"], { cwd: data });
    expect(rooted).toMatchObject({ code: 0, stderr: "" });

    expect((await project.cli(["tick"], { cwd: data })).code).toBe(0);
    expect(await project.status(relative)).toMatchObject({ status: "failed", error: { message: expect.stringContaining("ENOENT") } });
    expect(await project.status(absolute.stdout.trim())).toMatchObject({ status: "succeeded", message: `${project.dir}: from app/data` });
    expect(await project.status(rooted.stdout.trim())).toMatchObject({ status: "succeeded", message: `${project.dir}: from the root` });

    const byWorker = await project.run("import-users", ["file=root.csv"]);
    expect(await project.waitForTask(byWorker, (t) => t.completed)).toMatchObject({ status: "succeeded", message: `${project.dir}: from the root` });
  });

  it("a relative --journal, like --home, is the project root's, so the worker run starts finds the task typed in a subfolder", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "noop.js": `import { defineTask } from "bgtask"; export default defineTask({ run: () => ({ message: "ran" }) });` },
    });
    const sub = join(project.dir, "app");
    mkdirSync(sub);
    const id = (await project.cli(["run", "noop", "--journal", "jr"], { cwd: sub })).stdout.trim();
    expect(id).toBe("1");
    await waitFor(async () => JSON.parse((await project.cli(["status", id, "--json", "--journal", "jr"])).stdout).status === "succeeded", 15_000);
    expect((await project.cli(["status", id, "--json", "--journal", "jr"], { cwd: sub })).code).toBe(0);
  });
});
