// The package as users get it: `npm pack`, installed from the tarball into a fresh `npm init`
// project, runs a TypeScript executor there, from the CLI and from `bgtask/client` imported by an
// ES module and required by a CommonJS one. What the tarball holds and what the install pulls
// in are checked, and printed, because they are what a user pays for.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO, useProject, waitFor } from "../helpers/project.ts";

function sizeOf(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + sizeOf(join(path, entry)), 0);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

describe("the packed package", () => {
  it("installs from its tarball into a fresh project and runs a task there, pulling in only what runs", async () => {
    const packDir = mkdtempSync(join(tmpdir(), "bgtask-pack-"));
    onTestFinished(() => rmSync(packDir, { recursive: true, force: true }));
    // dist/ is built already (the suite drives it); --ignore-scripts keeps `prepack` from rebuilding it.
    const pack = await execa("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir], { cwd: REPO });
    const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
    const files = packed!.files.map((f) => f.path);
    expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
    // A V8 code cache is one Node's: each Node makes its own (bin/bgtask.js), none is shipped.
    expect(files.filter((f) => f.includes(".cache"))).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        "LICENSE",
        "README.md",
        "bin/bgtask.js",
        "dist/index.js",
        "dist/index.d.ts",
        "client/package.json",
        "dist/client/index.js",
        "dist/client/index.cjs",
        "dist/client/index.d.ts",
        "dist/client/index.d.cts",
        "dist/client/types.d.ts",
        "dist/cli/bgtask.cjs",
        "dist/worker/main.js",
        "dist/bgtask.config.schema.json",
        "dist/dashboard/server.cjs",
        "dist/dashboard/assets/index.html",
        "dist/dashboard/assets/app.js",
        "dist/dashboard/assets/style.css",
      ]),
    );
    // tsc's file-for-file output of the CLI and the worker is what the bundles stand for: not shipped.
    expect(files.filter((f) => /^dist\/(journal|worker\/runner|cli\/commands|dashboard\/[^/]+\.js)/.test(f))).toEqual([]);

    // A project as `npm init -y` makes it: CommonJS, no bgtask config.
    const project = useProject(onTestFinished);
    rmSync(join(project.dir, "node_modules"), { recursive: true, force: true });
    rmSync(join(project.dir, "package.json"));
    await execa("npm", ["init", "-y"], { cwd: project.dir });
    // As a production image installs it (`npm install --omit=dev`, bgtask a dependency), and
    // without the registry: jiti, bgtask's one dependency, is packed from this repository's
    // node_modules beside it, and an empty private cache with --offline makes any fetch fail.
    const jiti = await execa("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", packDir, join(REPO, "node_modules", "jiti")], {
      cwd: REPO,
    });
    const [jitiPacked] = JSON.parse(jiti.stdout) as Array<{ filename: string }>;
    const install = await execa(
      "npm",
      [
        "install",
        "--omit=dev",
        "--offline",
        "--cache",
        join(packDir, "cache"),
        "--no-audit",
        "--no-fund",
        join(packDir, jitiPacked!.filename),
        join(packDir, packed!.filename),
      ],
      { cwd: project.dir, reject: false },
    );
    expect(install.exitCode, install.stderr).toBe(0);
    // npm blocks and warns about a dependency's install scripts (`prepare` of a tarball among them): bgtask has none.
    expect(install.stderr).not.toMatch(/install-scripts|bgtask@/);
    const manifest = JSON.parse(readFileSync(join(project.dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toContain("bgtask");
    // The "$schema" line of docs/configuration.md resolves in the installed project.
    writeFileSync(join(project.dir, "bgtask.config.json"), JSON.stringify({ $schema: "./node_modules/bgtask/dist/bgtask.config.schema.json" }));
    expect(JSON.parse(readFileSync(join(project.dir, "node_modules/bgtask/dist/bgtask.config.schema.json"), "utf8"))).toMatchObject({
      additionalProperties: false,
    });
    mkdirSync(join(project.dir, "tasks"), { recursive: true });
    writeFileSync(
      join(project.dir, "tasks", "greet.ts"),
      `import { defineTask } from "bgtask";
       export default defineTask<{ name: string }>({
         async run(task) { await task.progress(50); return { message: \`hello \${task.context.name}\` }; },
       });`,
    );

    const bin = join(project.dir, "node_modules", ".bin", "bgtask");
    const run = await execa(bin, ["run", "greet", "name=ada", "--follow"], { cwd: project.dir, env: project.env, reject: false });
    expect(run.exitCode, run.stderr).toBe(0);
    const [record] = JSON.parse((await execa(bin, ["list", "--json"], { cwd: project.dir, env: project.env })).stdout) as Array<{
      status: string;
      message: string;
    }>;
    expect(record).toMatchObject({ status: "succeeded", message: "hello ada" });

    // A container's service: tasks stored without a worker, then drained by `bgtask work --once`.
    const queued = await execa(bin, ["run", "--no-worker", "greet", "name=grace"], { cwd: project.dir, env: project.env, reject: false });
    expect(queued.exitCode, queued.stderr).toBe(0);
    const work = await execa(bin, ["work", "--once"], { cwd: project.dir, env: project.env, reject: false });
    expect(work.exitCode, work.stderr).toBe(0);
    const drained = JSON.parse((await execa(bin, ["status", queued.stdout.trim(), "--json"], { cwd: project.dir, env: project.env })).stdout);
    expect(drained).toMatchObject({ status: "succeeded", message: "hello grace" });

    // The dashboard finds its server and its page in the installed package.
    const ui = execa(bin, ["ui", "--port", "0"], { cwd: project.dir, env: project.env, reject: false });
    let printed = "";
    ui.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString("utf8")));
    await waitFor(
      () => /\?token=\S+\n/.test(printed) || ui.exitCode !== null,
      30_000,
      () => `bgtask ui printed no URL: ${printed}`,
    );
    const url = new URL(printed.trim());
    const cookie = `bgtask_token_${url.port}=${url.searchParams.get("token")}`;
    for (const path of ["/", "/assets/app.js", "/assets/style.css"]) {
      const served = await fetch(`${url.origin}${path}`, { headers: { cookie } });
      expect(served.status, path).toBe(200);
    }
    ui.kill("SIGTERM");
    expect((await ui).exitCode).toBe(0);

    // The client, as an ES module imports it and as a CommonJS module requires it.
    const script = (name: string) => `
      const bg = createClient();
      const task = await bg.run("greet", { name: "${name}" });
      const done = await bg.wait(task.id, { timeout: "60s" });
      const refused = await bg.get("not-an-id").catch((error) => error);
      const stats = await bg.stats();
      const workers = await bg.workers();
      await bg.close();
      console.log(JSON.stringify({ status: done.status, message: done.message, refused: refused instanceof BgtaskError && refused.code, counted: stats.byExecutor.greet.succeeded > 0, workers: Array.isArray(workers) }));`;
    writeFileSync(join(project.dir, "client.mjs"), `import { BgtaskError, createClient } from "bgtask/client";\n${script("esm")}`);
    writeFileSync(join(project.dir, "client.cjs"), `const { BgtaskError, createClient } = require("bgtask/client");\n(async () => {${script("cjs")}\n})();`);
    for (const [file, name] of [
      ["client.mjs", "esm"],
      ["client.cjs", "cjs"],
    ]) {
      const used = await execa(process.execPath, [file!], { cwd: project.dir, env: project.env, reject: false });
      expect(used.exitCode, `${file}: ${used.stderr}`).toBe(0);
      expect(JSON.parse(used.stdout), file).toEqual({ status: "succeeded", message: `hello ${name}`, refused: "EBADID", counted: true, workers: true });
    }

    // One client for both: a program that imports it and requires it (its own code and a
    // dependency's) gets the same classes, so an error from one is instanceof the other's.
    writeFileSync(
      join(project.dir, "both.mjs"),
      `import { createRequire } from "node:module";
       import * as esm from "bgtask/client";
       const cjs = createRequire(import.meta.url)("bgtask/client");
       const bg = esm.createClient();
       const refused = await bg.get("not-an-id").catch((error) => error);
       await bg.close();
       console.log(JSON.stringify({ same: esm.UsageError === cjs.UsageError, instance: refused instanceof cjs.UsageError }));`,
    );
    const both = await execa(process.execPath, ["both.mjs"], { cwd: project.dir, env: project.env, reject: false });
    expect(both.exitCode, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toEqual({ same: true, instance: true });

    // The types, for TypeScript's every Node resolution and a bundler's, checked whole: no
    // skipLibCheck, and no @types/node, which a user of the client need not have.
    const typed = `import { BgtaskError, createClient, type AttachmentFile, type EventKind, type TaskRecord } from "bgtask/client";
      export async function main(): Promise<string> {
        const bg = createClient({ root: "." });
        const task: TaskRecord = await bg.run("greet", { name: "ts" });
        const refused: unknown = await bg.get("x").catch((error: unknown) => error);
        const file: AttachmentFile = await bg.attachment(task.id, "report.csv");
        for await (const chunk of file.open()) console.log(chunk.byteLength);
        for await (const event of bg.events({ since: "1" })) console.log(event.cursor, event.kind satisfies EventKind);
        await bg.close();
        return refused instanceof BgtaskError ? refused.code : task.id;
      }`;
    for (const file of ["typed.mts", "typed.cts", "typed.ts"]) writeFileSync(join(project.dir, file), typed);
    for (const [resolution, module, files] of [
      ["node16", "node16", ["typed.mts", "typed.cts"]],
      ["nodenext", "nodenext", ["typed.mts", "typed.cts"]],
      ["bundler", "esnext", ["typed.ts"]],
    ] as const) {
      const tsconfig = join(project.dir, `tsconfig.${resolution}.json`);
      writeFileSync(
        tsconfig,
        JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: "es2022", module, moduleResolution: resolution, types: [] }, files }),
      );
      const checked = await execa(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", tsconfig], { cwd: project.dir, reject: false });
      expect(checked.exitCode, `${resolution}: ${checked.stdout}`).toBe(0);
    }

    const lock = JSON.parse(readFileSync(join(project.dir, "node_modules", ".package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    const installed = Object.keys(lock.packages)
      .filter((key) => key.startsWith("node_modules/"))
      .sort();
    const modulesSize = sizeOf(join(project.dir, "node_modules"));
    console.log(
      `bgtask package: ${mib(packed!.size)} packed, ${mib(packed!.unpackedSize)} unpacked, ${files.length} files; ` +
        `installed: ${installed.length} packages (${installed.map((p) => p.slice("node_modules/".length)).join(", ")}), ${mib(modulesSize)} in node_modules`,
    );
    expect(installed).toEqual(["node_modules/bgtask", "node_modules/jiti"]);
    expect(packed!.size).toBeLessThan(1024 * 1024);
  }, 180_000);

  it("builds what runs on the first command of a fresh clone, whose dist/ is missing", async () => {
    const clone = mkdtempSync(join(tmpdir(), "bgtask-clone-"));
    onTestFinished(() => rmSync(clone, { recursive: true, force: true }));
    // Not the tool folders' own node_modules (scripts/check-types/ once `check:types` ran): thousands of files nothing here uses.
    const copied = (path: string) => !relative(REPO, path).split(/[\\/]/).includes("node_modules");
    for (const entry of ["bin", "scripts", "src", "tasks", "package.json"]) cpSync(join(REPO, entry), join(clone, entry), { recursive: true, filter: copied });
    symlinkSync(join(REPO, "node_modules"), join(clone, "node_modules"), "dir");
    const env = { NO_COLOR: "1", CI: "true", BGTASK_IDLE: "500ms" };
    const cli = (args: string[]) => execa(process.execPath, [join(clone, "bin/bgtask.js"), ...args], { cwd: clone, env, reject: false });
    const first = await cli(["run", "hello", "--follow"]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^bgtask: first run in this clone: building dist\/ /);
    expect(first.stdout).toMatch(/succeeded/);
    const second = await cli(["list", "--json"]);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toBe("");
  }, 120_000);
});
