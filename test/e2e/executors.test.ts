// Executors as users write them: TypeScript and JavaScript, flat and in nested folders, with no
// build step; `bgtask executors` lists each with its settings.
import { describe, expect, it, onTestFinished } from "vitest";
import { useProject } from "../helpers/project.ts";

const TASKS = {
  "import-users.ts": `
    import { defineTask } from "bgtask";
    interface Ctx { file: string; rows: number }
    export default defineTask<Ctx>({
      serial: true,
      retry: { tries: 2, interval: "1s" },
      timeout: "5m",
      async run(task) {
        const rows: number = task.context.rows;
        await task.progress(50, "half way");
        return { message: \`imported \${rows} rows from \${task.context.file}\`, result: { rows, lang: "ts" } };
      },
    });`,
  "mail/send.js": `
    import { defineTask } from "bgtask";
    export default defineTask({
      serialKey: (context) => context.to,
      run(task) {
        console.log("sending to", task.context.to);
        return { message: "sent to " + task.context.to, result: { lang: "js" } };
      },
    });`,
  "reports/monthly/build.mts": `
    import { defineTask } from "bgtask";
    export default defineTask({
      retry: [{ tries: 1, interval: "1s" }, { tries: 2, interval: "5s" }],
      steps: [
        { name: "collect", run(task) { task.state.n = 1; } },
        { name: "render", run(task) { task.state.n = (task.state.n as number) + 1; } },
      ],
    });`,
  "cleanup.mjs": `
    import { defineTask } from "bgtask";
    export default defineTask({ run: () => ({ message: "clean" }) });`,
};

describe("executors from tasks/", () => {
  it("a TypeScript executor and a JavaScript one in a nested folder (and .mts, .mjs) all run", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    const runs = await Promise.all([
      project.cli(["run", "import-users", "file=users.csv", "rows=3", "--follow"]),
      project.cli(["run", "mail/send", "to=ada@example.com", "--follow"]),
      project.cli(["run", "reports/monthly/build", "--follow"]),
      project.cli(["run", "cleanup", "--follow"]),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const tasks = await project.list();
    const byExecutor = Object.fromEntries(tasks.map((t) => [t.executor, t]));
    expect(byExecutor["import-users"]).toMatchObject({
      status: "succeeded",
      message: "imported 3 rows from users.csv",
      result: { rows: 3, lang: "ts" },
      maxTries: 3,
      serialKey: "import-users",
    });
    expect(byExecutor["mail/send"]).toMatchObject({
      status: "succeeded",
      message: "sent to ada@example.com",
      result: { lang: "js" },
      serialKey: "mail/send:ada@example.com",
    });
    expect(byExecutor["reports/monthly/build"]).toMatchObject({ status: "succeeded", maxTries: 4, state: { n: 2 } });
    expect(byExecutor.cleanup).toMatchObject({ status: "succeeded", message: "clean" });
    const mail = await project.cli(["status", byExecutor["mail/send"]!.id]);
    expect(mail.stdout).toContain("sending to ada@example.com");
  });

  it("`executors --json` lists each with its settings; the table shows them too", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    const result = await project.cli(["executors", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const listed = JSON.parse(result.stdout) as { tasksDir: string; executors: Array<Record<string, unknown>> };
    expect(listed.tasksDir).toBe(`${project.dir}/tasks`);
    expect(listed.executors).toEqual([
      {
        name: "cleanup",
        file: `${project.dir}/tasks/cleanup.mjs`,
        ok: true,
        error: null,
        settings: {
          serial: false,
          maxTries: 1,
          timeoutMs: null,
          priority: 0,
          concurrency: null,
          from: { retry: "none", timeout: "none", priority: "none", concurrency: "none" },
          steps: null,
        },
      },
      {
        name: "import-users",
        file: `${project.dir}/tasks/import-users.ts`,
        ok: true,
        error: null,
        settings: {
          serial: true,
          maxTries: 3,
          timeoutMs: 300_000,
          priority: 0,
          concurrency: null,
          from: { retry: "executor", timeout: "executor", priority: "none", concurrency: "none" },
          steps: null,
        },
      },
      {
        name: "mail/send",
        file: `${project.dir}/tasks/mail/send.js`,
        ok: true,
        error: null,
        settings: {
          serial: "by key",
          maxTries: 1,
          timeoutMs: null,
          priority: 0,
          concurrency: null,
          from: { retry: "none", timeout: "none", priority: "none", concurrency: "none" },
          steps: null,
        },
      },
      {
        name: "reports/monthly/build",
        file: `${project.dir}/tasks/reports/monthly/build.mts`,
        ok: true,
        error: null,
        settings: {
          serial: false,
          maxTries: 4,
          timeoutMs: null,
          priority: 0,
          concurrency: null,
          from: { retry: "executor", timeout: "none", priority: "none", concurrency: "none" },
          steps: ["collect", "render"],
        },
      },
    ]);

    const table = await project.cli(["executors"]);
    expect(table.code).toBe(0);
    const line = (name: string) => table.stdout.split("\n").find((l) => l.startsWith(`${name} `)) ?? "";
    expect(line("import-users")).toMatch(/tasks\/import-users\.ts\s+serial, tries 3, timeout 5m/);
    expect(line("mail/send")).toMatch(/tasks\/mail\/send\.js\s+serial by key/);
    expect(line("reports/monthly/build")).toMatch(/tries 4, no timeout, steps collect → render/);
    expect(line("cleanup")).toMatch(/tasks\/cleanup\.mjs\s+1 try, no timeout$/);
  });
});
