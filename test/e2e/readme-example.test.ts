// The README's examples, so that they cannot rot: its executor and its "Using bgtask from your
// code" example, compiled with tsc against the built package (resolved as `bgtask` from a project,
// as an installed copy is), with the promise beside the latter, that a wrong context for a declared
// executor is a compile error; and the executor run as a task, ending as the README says.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO, useProject } from "../helpers/project.ts";

/** The first ```ts block of the README's section `heading`. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.split(`\n## ${heading}\n`)[1]?.split("\n## ")[0];
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`README.md has no \`\`\`ts block under "## ${heading}"`);
  return code;
}

// Each line below must fail to compile: @ts-expect-error itself is an error when it does not.
const WRONG_CONTEXTS = `
// @ts-expect-error: "file" is a string
await bg.run("import-users", { file: 42 });
// @ts-expect-error: the context of a declared executor is required
await bg.run("import-users");
// @ts-expect-error: a key the executor does not take
await bg.runEach("mail/send", [{ to: "a@example.com", cc: "b@example.com" }]);
`;

describe("the README's client example and executor", () => {
  it("compile with tsc against the built package, and wrong contexts do not", async () => {
    const project = useProject(onTestFinished);
    writeFileSync(join(project.dir, "example.ts"), `${readmeExample("Using bgtask from your code")}\n${WRONG_CONTEXTS}`);
    writeFileSync(join(project.dir, "executor.ts"), readmeExample("An executor"));
    writeFileSync(
      join(project.dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(REPO, "node_modules/@types")],
        },
        files: ["example.ts", "executor.ts"],
      }),
    );
    const tsc = await execa(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: project.dir, reject: false });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.exitCode).toBe(0);
  }, 60_000);
});

describe("the README's executor", () => {
  it("runs as tasks/import-users.ts and ends as the README says", async () => {
    const project = useProject(onTestFinished, { tasks: { "import-users.ts": readmeExample("An executor") } });
    const id = await project.run("import-users", ["file=users.csv"]);
    const task = await project.waitForTask(id, (t) => t.completed);
    expect(task).toMatchObject({ status: "succeeded", message: "imported 1000 rows", result: { rows: 1000 }, maxTries: 4 });
  });
});
