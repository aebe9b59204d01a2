// D7 (the part issue 2 owns): executors never load from outside the tasks directory, a hostile
// journal cannot pollute prototypes, files are owner-only whatever the umask, and untrusted text
// never reaches the terminal with its escape sequences.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it, onTestFinished } from "vitest";
import type { TaskRecord } from "../../src/core/task.ts";
import { fixture } from "../helpers/fixtures.ts";
import { homeEntries, resealLog, sha256, startWorker } from "../helpers/journal.ts";
import { BIN, useProject, waitFor } from "../helpers/project.ts";

describe("S1: executors that resolve outside the tasks directory", () => {
  it("a symlinked file or folder pointing outside is refused before it is imported", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const outside = join(project.dir, "outside");
    mkdirSync(outside);
    const marker = join(project.dir, "imported.marker");
    const evil = `
      import { writeFileSync } from "node:fs";
      import { defineTask } from "bgtask";
      writeFileSync(${JSON.stringify(marker)}, "imported");
      export default defineTask({ run() { return { message: "ran" }; } });`;
    writeFileSync(join(outside, "evil.mjs"), evil);
    writeFileSync(join(outside, "inner.ts"), evil);
    symlinkSync(join(outside, "evil.mjs"), join(project.dir, "tasks", "evil.ts"));
    symlinkSync(outside, join(project.dir, "tasks", "ext"));
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    const journal = sha256(project.journalBytes());

    for (const name of ["evil", "ext/inner"]) {
      const result = await project.cli(["run", name]);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^bgtask: executor "${name}" is refused: .* resolves outside the tasks directory \\(${outside}`));
    }
    const table = await project.cli(["executors"]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/^evil +tasks\/evil\.ts .*refused: it resolves outside the tasks directory/m);
    expect(table.stdout).toMatch(/^ext +tasks\/ext .*refused: it resolves outside the tasks directory/m);
    const json = JSON.parse((await project.cli(["executors", "--json"])).stdout) as { executors: Array<{ name: string; ok: boolean }> };
    expect(json.executors.filter((e) => e.ok).map((e) => e.name)).toEqual(["noop"]);
    expect(
      json.executors
        .filter((e) => !e.ok)
        .map((e) => e.name)
        .sort(),
    ).toEqual(["evil", "ext"]);

    expect(existsSync(marker)).toBe(false);
    expect(sha256(project.journalBytes())).toBe(journal);
  });
});

describe("S2: a hand-edited journal with __proto__ keys", () => {
  it("list, status and a worker still work, and no process's prototypes are polluted", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "probe.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            run(task) {
              return { message: "probed", result: { polluted: String(({}).polluted), contextPolluted: String(task.context.polluted), ok: task.context.ok } };
            },
          });`,
      },
    });
    expect((await project.cli(["run", "--no-worker", "probe"])).code).toBe(0);
    const logPath = project.logPath;
    const text = readFileSync(logPath, "utf8");
    const edited = text
      .replace('"context":{}', '"context":{"__proto__":{"polluted":true},"ok":1}')
      .replace('"attributes":{}', '"attributes":{"__proto__":{"polluted":true}}');
    expect(edited).not.toBe(text);
    // Edited on purpose, so its checksums are made to fit (damage would be refused by the crc).
    writeFileSync(logPath, resealLog(edited));

    const list = await project.cli(["list", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const [listed] = JSON.parse(list.stdout) as TaskRecord[];
    expect(listed!.context.ok).toBe(1);
    expect((listed!.context as { polluted?: unknown }).polluted).toBeUndefined();
    for (const args of [["status", "1"], ["status", "1", "--json"], ["list"]]) {
      const result = await project.cli(args);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    }

    expect((await startWorker(project)).exitCode).toBe(0);
    const done = await project.status("1");
    expect(done.status).toBe("succeeded");
    expect(done.result).toEqual({ polluted: "undefined", contextPolluted: "undefined", ok: 1 });
  });
});

describe("S3: owner-only files whatever the umask", () => {
  const modeOf = (path: string) => statSync(path).mode & 0o777;

  it("home 0700 and journal, history, logs and attachments 0600 under umask 000; looser existing modes are tightened", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "attach.js": `
          import { defineTask } from "bgtask";
          export default defineTask({
            async run(task) {
              console.log("to the task log");
              await task.attach("report.txt", "data");
              return { message: "attached" };
            },
          });`,
      },
    });
    const underUmask000 = (args: string[]) =>
      execa("sh", ["-c", 'umask 000 && exec "$0" "$@"', process.execPath, BIN, ...args], {
        cwd: project.dir,
        env: project.env,
        reject: false,
        stdin: "ignore",
      });

    const run = await underUmask000(["run", "attach"]);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const id = String(run.stdout).trim();
    await project.waitForTask(id, (t) => t.completed);
    await waitFor(
      () => project.workers().length === 0,
      15_000,
      () => "worker still alive",
    );

    const dirs = [project.home, join(project.home, "logs"), join(project.home, "attachments"), join(project.home, "attachments", id)];
    const files = [
      project.journalPath,
      project.logPath,
      join(project.home, "history.jsonl"),
      join(project.home, "logs", "worker.log"),
      join(project.home, "logs", `${id}.log`),
      join(project.home, "attachments", id, "report.txt"),
    ];
    for (const dir of dirs) expect(modeOf(dir).toString(8), dir).toBe("700");
    for (const file of files) expect(modeOf(file).toString(8), file).toBe("600");

    // Someone loosened everything: the next commands tighten what they touch.
    for (const dir of dirs) chmodSync(dir, 0o755);
    for (const file of files) chmodSync(file, 0o644);
    const again = await underUmask000(["run", "attach"]);
    expect(again.exitCode, String(again.stderr)).toBe(0);
    const second = String(again.stdout).trim();
    await project.waitForTask(second, (t) => t.completed);
    await waitFor(
      () => project.workers().length === 0,
      15_000,
      () => "worker still alive",
    );
    expect(modeOf(project.home).toString(8)).toBe("700");
    expect(modeOf(join(project.home, "logs")).toString(8)).toBe("700");
    for (const file of [project.journalPath, project.logPath, join(project.home, "history.jsonl"), join(project.home, "logs", `${second}.log`)]) {
      expect(modeOf(file).toString(8), file).toBe("600");
    }
    // Nothing in the home is left readable by others.
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : []));
    for (const dir of [project.home, ...walk(project.home)].filter((d) => !d.includes(join("attachments", id)))) {
      expect(modeOf(dir) & 0o077, dir).toBe(0);
    }
  });

  it("a pre-existing 0755 home is tightened to 0700 by the first write", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    mkdirSync(project.home, { mode: 0o755 });
    chmodSync(project.home, 0o755);
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    expect((statSync(project.home).mode & 0o777).toString(8)).toBe("700");
    expect(homeEntries(project)).toEqual([".gitignore", "executors.cache.json", "journal.1.log", "journal.json", "journal.mark"]);
  });
});

describe("S4: a home that is a symbolic link", () => {
  it("is refused (exit 3) before anything is written through it: no settings cache, no transpiled executor", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js"), "typed.ts": fixture("slow.ts") } });
    const elsewhere = join(project.dir, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, project.home, "dir");
    for (const executor of ["noop", "typed"]) {
      const run = await project.cli(["run", executor, "--no-worker"]);
      expect(run.code).toBe(3);
      expect(run.stderr).toMatch(/^bgtask: the bgtask home .+ is a symbolic link; choose another with --home or BGTASK_HOME$/);
    }
    expect((await project.cli(["executors"])).code).toBe(3);
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});

describe("S5: transpiled TypeScript executors", () => {
  it("are cached inside the 0700 home, never in the system temp folder", async () => {
    const tmp = join(tmpdir(), `bgtask-tmpdir-${process.pid}-${Date.now()}`);
    mkdirSync(tmp);
    onTestFinished(() => rmSync(tmp, { recursive: true, force: true }));
    const project = useProject(onTestFinished, {
      tasks: { "typed.ts": `import { defineTask } from "bgtask"; export default defineTask({ run: () => ({ message: "typed" as string }) });` },
      env: { TMPDIR: tmp },
    });
    const id = await project.run("typed");
    expect(await project.waitForTask(id, (t) => t.completed)).toMatchObject({ status: "succeeded", message: "typed" });
    expect((await project.cli(["executors"])).code).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
    const cache = join(project.home, "cache", "jiti");
    expect(readdirSync(cache).some((f) => f.includes("typed"))).toBe(true);
    for (const dir of [join(project.home, "cache"), cache]) expect((statSync(dir).mode & 0o777).toString(8), dir).toBe("700");
  });

  it("leave every file of the home 0600 and every folder 0700 under umask 000, while the executor's own files keep the umask", async () => {
    const made = join(tmpdir(), `bgtask-umask-${process.pid}-${Date.now()}.txt`);
    onTestFinished(() => rmSync(made, { force: true }));
    const project = useProject(onTestFinished, {
      tasks: {
        "lib/words.ts": `export const word: string = "typed";`,
        "typed.ts": `
          import { writeFileSync } from "node:fs";
          import { defineTask } from "bgtask";
          import { word } from "./lib/words.ts";
          export default defineTask({ run: () => { writeFileSync(${JSON.stringify(made)}, word); return { message: word }; } });`,
      },
    });
    // The worker `run` starts inherits the umask: it transpiles the executor and runs it.
    const run = await execa("sh", ["-c", 'umask 000 && exec "$0" "$@"', process.execPath, BIN, "run", "typed"], {
      cwd: project.dir,
      env: project.env,
      reject: false,
      stdin: "ignore",
    });
    expect(run.exitCode, String(run.stderr)).toBe(0);
    expect(await project.waitForTask(String(run.stdout).trim(), (t) => t.completed)).toMatchObject({ status: "succeeded", message: "typed" });
    await waitFor(
      () => project.workers().length === 0,
      15_000,
      () => "worker still alive",
    );

    const walk = (dir: string): Array<{ path: string; folder: boolean }> =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const path = join(dir, e.name);
        return e.isDirectory() ? [{ path, folder: true }, ...walk(path)] : [{ path, folder: false }];
      });
    const entries = walk(project.home);
    expect(entries.filter((e) => !e.folder && e.path.startsWith(join(project.home, "cache", "jiti"))).length).toBeGreaterThanOrEqual(2);
    for (const { path, folder } of entries) expect((statSync(path).mode & 0o777).toString(8), path).toBe(folder ? "700" : "600");
    expect((statSync(made).mode & 0o777).toString(8)).toBe("666");
  });
});

describe("S7: terminal escape sequences in untrusted text", () => {
  // Window title, clear screen, a hyperlink, a clipboard write, a C1 CSI, a carriage return.
  const HOSTILE = "a\u001b]0;pwned\u0007b\u001b[2Jc\u001b]8;;http://x\u001b\\link\u001b]8;;\u001b\\d\u001b]52;c;AAAA\u0007e\u009b31mf\rg";
  // eslint-disable-next-line no-control-regex
  const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
  /** A file name carrying ESC and BEL (a name may hold anything but "/" and NUL). */
  const FILE_NAME = HOSTILE.slice(0, 12).replace(/[\]\\;]/g, "_");

  it("are stripped from list, status and executors output, and kept raw in --json", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "loud.js": `
          import { defineTask } from "bgtask";
          const hostile = ${JSON.stringify(HOSTILE)};
          export default defineTask({
            async run(task) {
              console.log("printed " + hostile);
              task.log("logged " + hostile);
              await task.set({ note: hostile, [hostile]: 1 });
              return { message: hostile, result: { text: hostile } };
            },
          });`,
        "boom.js": `
          import { defineTask } from "bgtask";
          import { explode } from "./lib/${FILE_NAME}.mjs";
          export default defineTask({ run() { explode(); } });`,
      },
    });
    // A helper module whose very file name carries escapes: it shows up in error.where and in `executors`.
    mkdirSync(join(project.dir, "tasks", "lib"));
    writeFileSync(
      join(project.dir, "tasks", "lib", `${FILE_NAME}.mjs`),
      `export function explode() { throw new Error(${JSON.stringify(`boom ${HOSTILE}`)}); }\n`,
    );

    const loud = await project.run("loud");
    const boom = await project.run("boom");
    await project.waitForTask(loud, (t) => t.completed);
    const failed = await project.waitForTask(boom, (t) => t.completed);
    expect(failed.status).toBe("failed");
    expect(failed.error?.where).toContain("\u001b");

    for (const args of [["list"], ["status", loud], ["status", boom], ["executors"]]) {
      const result = await project.cli(args);
      // `executors` exits 1: the helper's hostile file name is not a valid executor name.
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(args[0] === "executors" ? 1 : 0);
      expect(result.stdout, args.join(" ")).not.toMatch(UNSAFE);
      expect(result.stderr, args.join(" ")).not.toMatch(UNSAFE);
    }
    const status = await project.cli(["status", loud]);
    // The visible text survives, only the control sequences go.
    expect(status.stdout).toContain("abclinkdefg");
    expect(status.stdout).toContain("printed abclinkdefg");
    expect(status.stdout).toContain("logged abclinkdefg");

    const record = JSON.parse((await project.cli(["status", loud, "--json"])).stdout) as TaskRecord;
    expect(record.message).toBe(HOSTILE);
    expect(record.result).toEqual({ text: HOSTILE });
    expect(record.attributes).toEqual({ note: HOSTILE, [HOSTILE]: 1 });
    const listed = JSON.parse((await project.cli(["list", "--json"])).stdout) as TaskRecord[];
    expect(listed.find((t) => t.id === boom)!.error!.message).toBe(`boom ${HOSTILE}`);
  });
});
