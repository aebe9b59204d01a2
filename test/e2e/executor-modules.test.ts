// Executor modules as newcomers write them, and what bgtask says when one cannot be used: where a
// syntax error is, which module form a file must have in a CommonJS or ES module project, that
// executors need bgtask installed locally, helpers beside executors, and `bgtask executors` as a
// CI check (exit 1 when a module cannot be used, the settings tasks really get).
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { useProject, type Project } from "../helpers/project.ts";

interface Listed {
  name: string;
  ok: boolean;
  error: string | null;
  settings: Record<string, unknown> | null;
}

async function listed(project: Project): Promise<Listed[]> {
  return (JSON.parse((await project.cli(["executors", "--json"])).stdout) as { executors: Listed[] }).executors;
}

function errorOf(executors: Listed[], name: string): string {
  const entry = executors.find((e) => e.name === name);
  expect(entry, `no entry for ${name}`).toBeDefined();
  return entry!.error ?? "";
}

function commonjsProject(project: Project): void {
  writeFileSync(join(project.dir, "package.json"), JSON.stringify({ name: "newcomer", version: "1.0.0", type: "commonjs" }));
}

describe("syntax errors in executors", () => {
  it("name file:line:column for .ts, .mts, .js, .mjs and .cjs alike", async () => {
    const body = "const a = 1;\nconst b = (;\n";
    const project = useProject(onTestFinished, {
      tasks: { "a.ts": body, "b.mts": body, "c.js": body, "d.mjs": body, "e.cjs": body },
    });
    const executors = await listed(project);
    for (const file of ["a.ts", "b.mts", "c.js", "d.mjs", "e.cjs"]) {
      const name = file.split(".")[0]!;
      // "(" is column 11 of line 2, so the error is at column 12, where ";" is.
      expect(errorOf(executors, name), file).toMatch(
        new RegExp(`cannot be used: it has a syntax error at ${project.dir}/tasks/${file.replace(".", "\\.")}:2:12: Unexpected token`),
      );
    }
    const run = await project.cli(["run", "d"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`it has a syntax error at ${project.dir}/tasks/d.mjs:2:12: Unexpected token ';'`);
  });
});

describe("module forms", () => {
  it("a .js executor written with import in a CommonJS project is told to use .mjs or set type: module, without Node's raw warning", async () => {
    const project = useProject(onTestFinished, { tasks: { "esm.js": fixture("noop.js") } });
    commonjsProject(project);
    const table = await project.cli(["executors"]);
    expect(table.stdout).toContain(
      `it is written as an ES module (import/export), but ${project.dir}/package.json makes .js files CommonJS: use .mjs, or set "type": "module" in package.json`,
    );
    expect(table.stderr).not.toMatch(/Warning|--trace-warnings/);
    const run = await project.cli(["run", "esm"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^bgtask: executor "esm" .* use \.mjs, or set "type": "module" in package\.json$/);
  });

  it("a .js or .mjs executor written with require in an ES module project is told to use .cjs; a .cjs one with import, .mjs", async () => {
    const cjs = 'const { defineTask } = require("bgtask");\nmodule.exports = defineTask({ run: () => ({ message: "ok" }) });\n';
    const project = useProject(onTestFinished, { tasks: { "legacy.js": cjs, "legacy-m.mjs": cjs, "modern.cjs": fixture("noop.js") } });
    const executors = await listed(project);
    for (const name of ["legacy", "legacy-m"]) {
      expect(errorOf(executors, name)).toMatch(/it uses require\(\), but it is loaded as an ES module: use \.cjs, or import instead of require$/);
    }
    expect(errorOf(executors, "modern")).toMatch(/it is written as an ES module \(import\/export\), but \.cjs files are CommonJS: use \.mjs$/);
  });

  it("every form docs/executors.md lists runs: .cjs and .ts with require, .js with require in CommonJS, .mjs and .ts with import", async () => {
    const cjs = 'const { defineTask } = require("bgtask");\nmodule.exports = defineTask({ run: () => ({ message: "ok" }) });\n';
    const esm = 'import { defineTask } from "bgtask";\nexport default defineTask({ run: () => ({ message: "ok" }) });\n';
    const project = useProject(onTestFinished, {
      tasks: { "a-cjs.cjs": cjs, "b-ts-require.ts": cjs, "c-js-require.js": cjs, "d-mjs.mjs": esm, "e-ts-import.ts": esm, "f-mts-import.mts": esm },
    });
    commonjsProject(project);
    const executors = await listed(project);
    expect(executors.filter((e) => !e.ok)).toEqual([]);
    const ids = await Promise.all(executors.map((e) => project.run(e.name)));
    for (const id of ids) expect((await project.waitForTask(id, (t) => t.completed)).status).toBe("succeeded");
  });
});

describe("bgtask installed globally only", () => {
  it("executors that import bgtask are told to install it in the project", async () => {
    const project = useProject(onTestFinished, { tasks: { "esm.mjs": fixture("noop.js"), "typed.ts": fixture("noop.js") } });
    rmSync(join(project.dir, "node_modules", "bgtask"));
    const executors = await listed(project);
    for (const name of ["esm", "typed"]) {
      expect(errorOf(executors, name)).toMatch(
        new RegExp(
          `it imports "bgtask", which is not installed in ${project.dir}: .*install it there \\(npm install --save-dev bgtask\\); a global install cannot be imported$`,
        ),
      );
    }
  });
});

describe("helpers in tasks/", () => {
  it("files and folders starting with _ are not executors, and executors import them", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "_lib/csv.ts": "export const parse = (text: string): string[] => text.split(',');\n",
        "_shared.ts": "export const greeting = 'hi';\n",
        "import-rows.ts": [
          'import { defineTask } from "bgtask";',
          'import { parse } from "./_lib/csv.ts";',
          'import { greeting } from "./_shared.ts";',
          "export default defineTask({ run: () => ({ message: `${greeting} ${parse('a,b').length}` }) });",
        ].join("\n"),
      },
    });
    const table = await project.cli(["executors"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).not.toContain("_");
    expect((await listed(project)).map((e) => e.name)).toEqual(["import-rows"]);
    const run = await project.cli(["run", "import-rows", "--follow"]);
    expect(run.code, run.stderr).toBe(0);
    expect((await project.list())[0]).toMatchObject({ status: "succeeded", message: "hi 2" });
    const helper = await project.cli(["run", "_lib/csv"]);
    expect(helper.code).toBe(2);
    expect(helper.stderr).toBe('bgtask: "_lib/csv" is not a valid executor name: files and folders starting with "_" are helpers for executors, not executors');
  });
});

describe("`bgtask executors` as a check", () => {
  it("exits 1 with a line on stderr when a module cannot be used, 0 when all can; refused files are named as executors are", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "bad name.ts": fixture("noop.js") } });
    const table = await project.cli(["executors"]);
    expect(table.code).toBe(1);
    expect(table.stderr).toBe(`bgtask: 1 of 2 modules in ${project.dir}/tasks cannot be used as executors`);
    expect(table.stdout).toMatch(/^bad name +tasks\/bad name\.ts +refused: "bad name" is not a valid executor name$/m);
    const json = await project.cli(["executors", "--json"]);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { executors: Listed[] }).executors.map((e) => [e.name, e.ok])).toEqual([
      ["noop", true],
      ["bad name", false],
    ]);
    rmSync(join(project.dir, "tasks", "bad name.ts"));
    expect((await project.cli(["executors"])).code).toBe(0);
  });

  it("shows the config's retry and timeout where the executor sets none, and says where each came from", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "plain.js": fixture("noop.js"),
        "own.js": 'import { defineTask } from "bgtask";\nexport default defineTask({ retry: 1, timeout: "30s", run() {} });\n',
      },
      config: { retry: { tries: 3, interval: "1s" }, timeout: "10m" },
    });
    const table = await project.cli(["executors"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^plain +tasks\/plain\.js +tries 4 \(bgtask\.config\.json\), timeout 10m \(bgtask\.config\.json\)$/m);
    expect(table.stdout).toMatch(/^own +tasks\/own\.js +tries 2, timeout 30s$/m);
    const executors = await listed(project);
    expect(executors.find((e) => e.name === "plain")!.settings).toMatchObject({
      maxTries: 4,
      timeoutMs: 600_000,
      from: { retry: "config", timeout: "config" },
    });
    // What `executors` shows is what a task gets.
    const id = await project.run("plain", ["--no-worker"]);
    expect(await project.status(id)).toMatchObject({ maxTries: 4, timeoutMs: 600_000 });
  });

  it("says the tasks folder is missing (exit 2), with --json as an error object", async () => {
    const project = useProject(onTestFinished);
    rmSync(join(project.dir, "tasks"), { recursive: true });
    const text = await project.cli(["executors"]);
    expect(text.code).toBe(2);
    expect(text.stderr).toBe(
      `bgtask: the tasks directory ${project.dir}/tasks does not exist: create it with an executor (like tasks/hello.ts), or point --tasks or "tasksDir" in bgtask.config.json at yours`,
    );
    const json = await project.cli(["executors", "--json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "ENOTASKSDIR", message: expect.stringContaining("does not exist") } });
  });
});
