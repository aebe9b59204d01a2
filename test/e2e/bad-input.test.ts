// D6: bad input is refused with exit 2 and one sentence on stderr that names the fault, and
// nothing is written: the journal stays byte-identical (or absent), no lock, no temp file.
// Also the executor modules that cannot be used, and executors that throw odd things.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { homeEntries, sha256 } from "../helpers/journal.ts";
import { useProject, type CliResult, type Project } from "../helpers/project.ts";

interface Case {
  name: string;
  args: string[];
  /** What stderr must say about the fault. */
  says: RegExp;
}

function deepArrays(depth: number): string {
  return `${"[".repeat(depth)}${"]".repeat(depth)}`;
}

function expectOneLineError(result: CliResult, code: number, says: RegExp, label: string): void {
  expect(result.code, `${label}: exit code (stderr: ${result.stderr})`).toBe(code);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, `${label}: stderr must be one line`).toHaveLength(1);
  expect(lines[0], label).toMatch(/^bgtask: /);
  expect(lines[0], label).toMatch(says);
  expect(result.stdout, label).toBe("");
}

/**
 * What must not change: journal, history, and the names in the home folder (no lock, no temp).
 * jiti's transpile cache (cache/) may warm: a module that transpiled and was then refused (no
 * default export, not made with defineTask) is cached as any module that transpiles.
 */
function snapshot(project: Project): string {
  return JSON.stringify([sha256(project.journalBytes()), homeEntries(project).filter((name) => name !== "cache")]);
}

/** Runs the cases a few at a time; each one checks that nothing changed around it. */
async function expectRefused(project: Project, cases: readonly Case[], code = 2): Promise<void> {
  const before = snapshot(project);
  const queue = [...cases];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const result = await project.cli(c.args, { timeout: 30_000 });
        expectOneLineError(result, code, c.says, c.name);
        expect(snapshot(project), `${c.name}: the journal or home changed`).toBe(before);
      }
    }),
  );
}

describe("D6: bad input to `run` and `status`", () => {
  it("refuses every bad name, context, time and flag with exit 2, one sentence, and nothing written", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    // An existing journal, so "unchanged" is checked byte for byte.
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);

    const files = join(project.dir, "inputs");
    mkdirSync(files);
    const deepFile = join(files, "deep.json");
    writeFileSync(deepFile, `{"a":${deepArrays(100_000)}}`);
    const bigFile = join(files, "big.json");
    writeFileSync(bigFile, JSON.stringify({ blob: "x".repeat(20 * 1024 * 1024) }));
    const fifo = join(files, "fifo");
    execFileSync("mkfifo", [fifo]);
    const eachWithNul = join(files, "each.jsonl");
    // A raw NUL cannot travel in argv; in a file it reaches the parser, which must refuse it.
    writeFileSync(eachWithNul, `{"ok":1}\n{"bad":"x\u0000y"}\n`);
    const eachOneBad = join(files, "each-one-bad.jsonl");
    writeFileSync(eachOneBad, `{"n":1}\n{"n":2}\n[3]\n`);

    const badName = /is not a valid executor name/;
    const cases: Case[] = [
      { name: "../x", args: ["run", "../x"], says: badName },
      { name: "/etc/passwd", args: ["run", "/etc/passwd"], says: badName },
      { name: "tasks/../../x", args: ["run", "tasks/../../x"], says: badName },
      { name: "x%2e%2e", args: ["run", "x%2e%2e"], says: badName },
      { name: "a/./b", args: ["run", "a/./b"], says: badName },
      { name: "empty name", args: ["run", ""], says: badName },
      { name: "300-char name", args: ["run", "a".repeat(300)], says: /executor name.*longer than 200 characters/ },
      {
        name: "unknown executor",
        args: ["run", "nope"],
        says: new RegExp(`no executor "nope": looked for nope\\{.*\\} in ${project.dir}/tasks, and it holds: noop`),
      },
      { name: "--ctx not json", args: ["run", "noop", "--ctx", "not json"], says: /--ctx is not valid JSON/ },
      { name: "--ctx []", args: ["run", "noop", "--ctx", "[]"], says: /--ctx must be a JSON object.*got an array/ },
      { name: "--ctx 42", args: ["run", "noop", "--ctx", "42"], says: /--ctx must be a JSON object.*got number/ },
      { name: "--ctx null", args: ["run", "noop", "--ctx", "null"], says: /--ctx must be a JSON object.*got null/ },
      { name: "__proto__", args: ["run", "noop", "--ctx", '{"__proto__":{"x":1}}'], says: /forbidden key "__proto__" at the top level/ },
      {
        name: "constructor.prototype",
        args: ["run", "noop", "--ctx", '{"a":{"constructor":{"prototype":{"x":1}}}}'],
        says: /forbidden key "constructor" at context\.a/,
      },
      { name: "__proto__ pair", args: ["run", "noop", "__proto__=1"], says: /forbidden key "__proto__"/ },
      // argv caps one argument at 128 KiB: 60k levels is as deep as --ctx can carry; the file goes to 100k.
      { name: "deep --ctx", args: ["run", "noop", "--ctx", `{"a":${deepArrays(60_000)}}`], says: /--ctx is nested deeper than 64 levels/ },
      { name: "100k-deep --ctx-file", args: ["run", "noop", "--ctx-file", deepFile], says: /nested deeper than 64 levels/ },
      { name: "deep pair", args: ["run", "noop", `a=${deepArrays(50_000)}`], says: /argument 1 .* is nested deeper/ },
      { name: "20 MB context", args: ["run", "noop", "--ctx-file", bigFile], says: /--ctx-file .*big\.json is larger than 1024 KiB/ },
      { name: "--ctx-file /dev/zero", args: ["run", "noop", "--ctx-file", "/dev/zero"], says: /--ctx-file \/dev\/zero is not a regular file/ },
      { name: "--ctx-file FIFO", args: ["run", "noop", "--ctx-file", fifo], says: /--ctx-file .*fifo is not a regular file/ },
      { name: "--ctx-file directory", args: ["run", "noop", "--ctx-file", files], says: /--ctx-file .*inputs is not a regular file/ },
      { name: "--ctx-file missing", args: ["run", "noop", "--ctx-file", join(files, "absent.json")], says: /absent\.json cannot be read \(ENOENT\)/ },
      { name: "--each with a NUL", args: ["run", "noop", "--each", eachWithNul], says: /line 2 of .*each\.jsonl is not valid JSON/ },
      { name: "--each one bad line", args: ["run", "noop", "--each", eachOneBad], says: /line 3 of .*each-one-bad\.jsonl must be a JSON object/ },
      { name: "key starting with a digit", args: ["run", "noop", "1bad=3"], says: /argument 1 \("1bad=3"\) has an invalid key/ },
      { name: "key with a space", args: ["run", "noop", "ok=1", "a b=3"], says: /argument 2 \("a b=3"\) has an invalid key/ },
      { name: "empty key", args: ["run", "noop", "=3"], says: /argument 1 \("=3"\) is not a key=value pair/ },
      { name: "no =", args: ["run", "noop", "novalue"], says: /argument 1 \("novalue"\) is not a key=value pair/ },
      { name: "--delay -1", args: ["run", "noop", "--delay", "-1"], says: /--delay "-1" is not a duration/ },
      { name: "--delay 10y", args: ["run", "noop", "--delay", "10y"], says: /--delay "10y" is not a duration/ },
      { name: "--at tomorrow-ish", args: ["run", "noop", "--at", "tomorrow-ish"], says: /--at "tomorrow-ish" is not a date and time/ },
      { name: "unknown flag", args: ["run", "noop", "--bogus"], says: /unknown option '--bogus'/ },
      { name: "unknown command", args: ["launch", "noop"], says: /unknown command 'launch'/ },
      { name: "missing executor", args: ["run"], says: /missing required argument 'executor'/ },
      { name: "status unknown id", args: ["status", "99"], says: /no task with id "99"/ },
      { name: "status ../x", args: ["status", "../x"], says: /"\.\.\/x" is not a task id/ },
      { name: "list --status bogus", args: ["list", "--status", "bogus"], says: /--status "bogus" is not a status/ },
      { name: "list --limit 0", args: ["list", "--limit", "0"], says: /--limit "0" is not a positive whole number/ },
    ];
    await expectRefused(project, cases);
  });

  it("refuses bad queue controls (priority, key, dependencies, host pins, pause, bulk forms) with exit 2, one sentence, and nothing written", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    const notPriority = /--priority .* is not a whole number of 0 or more/;
    await expectRefused(project, [
      { name: "--priority -1", args: ["run", "noop", "--priority", "-1"], says: notPriority },
      { name: "--priority 1.5", args: ["run", "noop", "--priority", "1.5"], says: notPriority },
      { name: "--priority high", args: ["run", "noop", "--priority", "high"], says: notPriority },
      { name: "--replace without --key", args: ["run", "noop", "--replace"], says: /--replace goes with --key/ },
      { name: "--key empty", args: ["run", "noop", "--key", ""], says: /--key must be text of 1 to 256 characters/ },
      { name: "--after a missing id", args: ["run", "noop", "--after", "99"], says: /no task with id "99"/ },
      { name: "--after one missing id of two", args: ["run", "noop", "--after", "1,99"], says: /no task with id "99"/ },
      { name: "--after not an id", args: ["run", "noop", "--after", "1,x"], says: /"x" is not a task id/ },
      { name: "--on empty", args: ["run", "noop", "--on", ""], says: /^bgtask: --on "" is not a host name: letters, digits, - and _/ },
      { name: "--on with a space", args: ["run", "noop", "--on", "build 01"], says: /--on "build 01" is not a host name/ },
      { name: "--on with a slash", args: ["run", "noop", "--on", "a/b"], says: /--on "a\/b" is not a host name/ },
      { name: "--on starting with -", args: ["run", "noop", "--on=-x"], says: /--on "-x" is not a host name/ },
      { name: "pause unknown executor", args: ["pause", "nope"], says: /no executor "nope"/ },
      { name: "pause names and --all", args: ["pause", "noop", "--all"], says: /give executors or --all, not both/ },
      { name: "resume unknown executor", args: ["resume", "nope"], says: /no executor "nope"/ },
      { name: "resume nothing", args: ["resume"], says: /give the executors whose queue to resume, or --all/ },
      { name: "retry --failed with ids", args: ["retry", "--failed", "1"], says: /give task ids or --failed, not both/ },
      { name: "retry --executor alone", args: ["retry", "1", "--executor", "noop"], says: /--executor goes with --failed/ },
      { name: "retry --failed of an unknown executor", args: ["retry", "--failed", "--executor", "nope"], says: /no executor "nope"/ },
      { name: "retry nothing", args: ["retry"], says: /give the ids of the tasks to retry, or --failed/ },
      { name: "cancel --all-queued with ids", args: ["cancel", "--all-queued", "1"], says: /give task ids or --all-queued, not both/ },
      { name: "cancel --executor alone", args: ["cancel", "1", "--executor", "noop"], says: /--executor goes with --all-queued/ },
      { name: "cancel nothing", args: ["cancel"], says: /give the ids of the tasks to cancel, or --all-queued/ },
    ]);
  });

  it("writes nothing at all, not even the home folder, when the first command is bad", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    await expectRefused(project, [
      { name: "bad name", args: ["run", "../x"], says: /is not a valid executor name/ },
      { name: "unknown executor", args: ["run", "nope"], says: /no executor "nope"/ },
      { name: "bad context", args: ["run", "noop", "--ctx", "[]"], says: /must be a JSON object/ },
    ]);
    expect(project.journalBytes()).toBeNull();
    expect(homeEntries(project)).toEqual([]);
  });
});

describe("D6: bad input to `stats`, `workers`, `attachment get` and `ui`", () => {
  it("refuses bad flags, ids, names and ports with exit 2, one sentence, and nothing written", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    await expectRefused(project, [
      { name: "stats --bogus", args: ["stats", "--bogus"], says: /unknown option '--bogus'/ },
      { name: "stats with an argument", args: ["stats", "42"], says: /too many arguments/ },
      { name: "workers --bogus", args: ["workers", "--bogus"], says: /unknown option '--bogus'/ },
      { name: "attachment without a verb", args: ["attachment", "list"], says: /unknown command 'list'/ },
      { name: "attachment get without a name", args: ["attachment", "get", "1"], says: /missing required argument 'name'/ },
      { name: "attachment get bad id", args: ["attachment", "get", "1x", "a"], says: /"1x" is not a task id/ },
      { name: "attachment get missing task", args: ["attachment", "get", "77", "a"], says: /no task with id "77"/ },
      {
        name: "attachment get unknown name",
        args: ["attachment", "get", "1", "../journal.json"],
        says: /task 1 has no attachment named "\.\.\/journal\.json"; it has none/,
      },
      { name: "ui --port abc", args: ["ui", "--port", "abc"], says: /--port "abc" is not a port/ },
      { name: "ui --port 65536", args: ["ui", "--port", "65536"], says: /--port "65536" is not a port/ },
      { name: "ui --host with a space", args: ["ui", "--host", "a b"], says: /--host "a b" is not an address or a host name/ },
      { name: "ui --host not here", args: ["ui", "--host", "192.0.2.1", "--port", "0"], says: /--host 192\.0\.2\.1 is not an address of this machine/ },
    ]);
  });
});

describe("executor modules that cannot be used", () => {
  const broken = {
    "noop.js": fixture("noop.js"),
    "syntax.js": "export default {{{\n",
    "syntax-ts.ts": 'import { defineTask } from "bgtask";\nexport default defineTask({ run() { const x: number = ; } });\n',
    "no-default.js": "export const run = () => {};\n",
    "no-default-ts.ts": "export const run = (): void => {};\n",
    "plain.js": "export default { run() {} };\n",
    "plain-ts.ts": "export default { run(): void {} };\n",
    "fibre.js": 'import { defineTask } from "bgtask";\nexport default defineTask({ isolation: "fibre", run() {} });\n',
  };
  const expected: Record<string, RegExp> = {
    syntax: /executor "syntax" \(.*syntax\.js\) cannot be used: it has a syntax error at \/.*\/tasks\/syntax\.js:1:\d+: Unexpected token/,
    "syntax-ts": /executor "syntax-ts" \(.*syntax-ts\.ts\) cannot be used: it has a syntax error at \/.*\/tasks\/syntax-ts\.ts:2:\d+: /,
    "no-default": /executor "no-default" \(.*\) cannot be used: it has no default export/,
    "no-default-ts": /executor "no-default-ts" \(.*\) cannot be used: it has no default export/,
    plain: /executor "plain" \(.*\) cannot be used: its default export is not made with defineTask/,
    "plain-ts": /executor "plain-ts" \(.*\) cannot be used: its default export is not made with defineTask/,
    fibre: /executor "fibre" \(.*\) cannot be used: isolation must be "inline", "thread" or "process", not "fibre"/,
  };

  it("`run` exits 2 with a sentence naming the module and what is wrong, writing nothing", async () => {
    const project = useProject(onTestFinished, { tasks: broken });
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    await expectRefused(
      project,
      Object.entries(expected).map(([name, says]) => ({ name, args: ["run", name], says })),
    );
  });

  it("`bgtask executors` lists the good ones and a clear line for each broken one", async () => {
    const project = useProject(onTestFinished, { tasks: broken });
    const table = await project.cli(["executors"]);
    expect(table.code).toBe(1);
    expect(table.stderr).toMatch(/^bgtask: 7 of 8 modules in .* cannot be used as executors$/);
    const lines = table.stdout.split("\n");
    expect(lines.find((l) => l.startsWith("noop "))).toBeDefined();
    for (const [name, says] of Object.entries(expected)) {
      const line = lines.find((l) => l.startsWith(`${name} `));
      expect(line, `no line for ${name}`).toBeDefined();
      expect(line).toMatch(says);
    }
    const json = JSON.parse((await project.cli(["executors", "--json"])).stdout) as {
      executors: Array<{ name: string; ok: boolean; error: string | null }>;
    };
    expect(json.executors.find((e) => e.name === "noop")).toMatchObject({ ok: true, error: null });
    for (const [name, says] of Object.entries(expected)) {
      expect(json.executors.find((e) => e.name === name)).toMatchObject({ ok: false, error: expect.stringMatching(says) });
    }
  });
});

describe("executors that throw", () => {
  it("a thrown non-Error fails the task with a useful message; a thrown Error records where", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "throws.ts": [
          'import { defineTask } from "bgtask";',
          "export default defineTask<{ kind: string }>({",
          "  run(task) {",
          '    if (task.context.kind === "string") throw "a plain string";',
          '    if (task.context.kind === "object") throw { code: 42, why: "an object" };',
          '    if (task.context.kind === "undefined") throw undefined;',
          '    if (task.context.kind === "null-value") throw null;',
          '    throw new Error("a real error");',
          "  },",
          "});",
        ].join("\n"),
      },
    });
    const kinds = ["string", "object", "undefined", "null-value", "error"];
    const ids = await Promise.all(kinds.map((kind) => project.run("throws", [`kind=${kind}`])));
    const done = await Promise.all(ids.map((id) => project.waitForTask(id, (t) => t.completed)));
    const byKind = Object.fromEntries(kinds.map((kind, i) => [kind, done[i]!]));
    for (const task of done) expect(task.status).toBe("failed");
    expect(byKind.string!.error).toMatchObject({ message: "a plain string", where: null });
    expect(byKind.object!.error!.message).toBe('non-Error thrown: {"code":42,"why":"an object"}');
    expect(byKind.undefined!.error!.message).toBe("non-Error thrown: undefined");
    expect(byKind["null-value"]!.error!.message).toBe("non-Error thrown: null");
    for (const kind of ["string", "object", "undefined", "null-value"]) {
      // The stack of a coerced value would point into bgtask itself: it must not pretend to.
      expect(byKind[kind]!.error!.stack ?? "", kind).not.toMatch(/dist\/|coerceError/);
      expect(byKind[kind]!.message).toBe(byKind[kind]!.error!.message);
    }
    expect(byKind.error!.error).toMatchObject({ message: "a real error", where: "tasks/throws.ts:8" });
    expect(byKind.error!.error!.stack).toMatch(/tasks\/throws\.ts:8/);
  });
});
