// The README's "Using bgtask from your code" example, compiled with tsc against the built package
// (resolved as `bgtask` from a project, as an installed copy is), so that it cannot rot; and the
// promise beside it, that a wrong context for a declared executor is a compile error.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO, useProject } from "../helpers/project.ts";

function readmeExample(): string {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const section = readme.split("\n## Using bgtask from your code\n")[1]?.split("\n## ")[0];
  const code = section && /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## Using bgtask from your code"');
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

describe("the README's client example", () => {
  it("compiles with tsc against the built package, and wrong contexts do not", async () => {
    const project = useProject(onTestFinished);
    writeFileSync(join(project.dir, "example.ts"), `${readmeExample()}\n${WRONG_CONTEXTS}`);
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
        files: ["example.ts"],
      }),
    );
    const tsc = await execa(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: project.dir, reject: false });
    expect(tsc.stdout + tsc.stderr).toBe("");
    expect(tsc.exitCode).toBe(0);
  }, 60_000);
});
