// What a newcomer types and what comes back (issue 15): usage errors honour --json, durations and
// dates mean what they say, contexts stay within their limit, the empty cases say so, and what
// `list`, `status`, `retry`, `cancel` and `logs` print is what a user expects.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import stringWidth from "string-width";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { sha256 } from "../helpers/journal.ts";
import { BIN, useProject, waitFor, type CliResult } from "../helpers/project.ts";

/** The one `{"error":{"code","message"}}` object a refused --json command prints, and its exit code. */
function jsonError(result: CliResult, label: string): { code: string; message: string } {
  expect(result.code, `${label}: exit code (stderr: ${result.stderr})`).toBe(2);
  const parsed = JSON.parse(result.stdout) as { error: { code: string; message: string } };
  expect(Object.keys(parsed), label).toEqual(["error"]);
  expect(typeof parsed.error.message, label).toBe("string");
  // The same sentence a person sees on stderr.
  expect(result.stderr.trim(), label).toBe(`bgtask: ${parsed.error.message}`);
  return parsed.error;
}

describe("usage errors with --json", () => {
  it("print {error:{code,message}} on stdout, the sentence on stderr, exit 2, for every kind of usage error", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    expect((await project.cli(["run", "--no-worker", "noop"])).code).toBe(0);
    const before = sha256(project.journalBytes());
    const cases: Array<[string[], RegExp]> = [
      [["run", "--json"], /missing required argument 'executor'/],
      [["status", "--json"], /missing required argument 'id'/],
      [["logs", "--json"], /missing required argument 'id'/],
      [["retry", "--json"], /give the ids of the tasks to retry, or --failed/],
      [["cancel", "--json"], /give the ids of the tasks to cancel, or --all-queued/],
      [["run", "noop", "--bogus", "--json"], /unknown option '--bogus'/],
      [["list", "--bogus", "--json"], /unknown option '--bogus'/],
      [["watch", "--json", "-x"], /unknown option '-x'/],
      [["launch", "noop", "--json"], /unknown command 'launch'/],
      [["status", "1", "2", "--json"], /too many arguments for 'status'/],
      [["executors", "extra", "--json"], /too many arguments for 'executors'/],
      [["list", "--json", "--limit"], /option '--limit <n>' argument missing/],
      [["run", "noop", "--json", "--ctx"], /option '--ctx <json>' argument missing/],
      // A command without --json of its own: the script asked for JSON all the same.
      [["tick", "--json"], /unknown option '--json'/],
      [["--json"], /unknown option '--json'/],
    ];
    for (const [args, says] of cases) {
      const error = jsonError(await project.cli(args), args.join(" "));
      expect(error, args.join(" ")).toMatchObject({ code: "EUSAGE", message: expect.stringMatching(says) });
    }
    // No command, only the usage on stderr: the JSON still says what is wrong.
    const noCommand = await project.cli(["help", "bogus", "--json"]);
    expect(noCommand.code).toBe(2);
    expect(JSON.parse(noCommand.stdout)).toEqual({ error: { code: "EUSAGE", message: "no command to run; `bgtask --help` lists the commands" } });
    expect(noCommand.stderr).toMatch(/^Usage: bgtask/);
    expect(sha256(project.journalBytes())).toBe(before);
  });
});

describe("durations and times on the command line", () => {
  it("--delay, --retry, --older-than and --max-time refuse a bare number, and --help says the unit is required", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const cases: Array<[string[], RegExp]> = [
      [["run", "noop", "--delay", "90"], /--delay "90" has no unit: write 90s for seconds/],
      [["run", "noop", "--delay", "1.5"], /--delay "1\.5" has no unit/],
      [["run", "noop", "--retry", "3x1000"], /--retry: "3x1000" has an interval with no unit: write 3x1000s/],
      [["remove", "--finished", "--older-than", "7"], /--older-than "7" has no unit/],
      [["tick", "--max-time", "55"], /--max-time "55" has no unit/],
    ];
    for (const [args, says] of cases) {
      const result = await project.cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(says);
    }
    expect(project.journalBytes()).toBeNull();
    expect((await project.cli(["run", "--help"])).stdout).toMatch(/--delay <duration>\s+run after a delay, like 90s or 10m; the unit is\s+required/);
    const delayed = await project.status(await project.run("noop", ["--delay", "90s", "--no-worker"]));
    expect(Date.parse(delayed.nextRunAt!) - Date.parse(delayed.createdAt)).toBe(90_000);
    // Zero is zero in any unit.
    expect((await project.cli(["run", "noop", "--delay", "0", "--retry", "2x0", "--no-worker"])).code).toBe(0);
  });

  it("--at refuses dates and times that do not exist, and says on stderr when the time is past", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    for (const at of [
      "2026-02-30T08:00",
      "2027-02-29",
      "2026-04-31T08:00",
      "2026-12-01T24:00",
      "2026-12-01T08:60",
      "2026-13-01T08:00",
      "2026-12-01T08:00+25:00",
    ]) {
      const result = await project.cli(["run", "noop", "--at", at, "--json"]);
      expect(jsonError(result, at).message, at).toBe(`--at "${at}" is not a date and time that exists, like 2026-12-01T08:00 (local) or 2026-12-01T08:00:00Z`);
    }
    expect(project.journalBytes()).toBeNull();

    const leap = await project.status(await project.run("noop", ["--at", "2028-02-29T08:00Z", "--no-worker"]));
    expect(leap.nextRunAt).toBe("2028-02-29T08:00:00.000Z");
    const local = await project.cli(["run", "noop", "--at", "2028-03-01T08:00", "--no-worker", "--json"], { env: { TZ: "Asia/Tokyo" } });
    expect((JSON.parse(local.stdout) as { nextRunAt: string }).nextRunAt).toBe("2028-02-29T23:00:00.000Z");
    // Clocks in Berlin go from 02:00 to 03:00 on 2027-03-28: 02:30 never happens there.
    const skipped = await project.cli(["run", "noop", "--at", "2027-03-28T02:30", "--json"], { env: { TZ: "Europe/Berlin" } });
    expect(jsonError(skipped, "DST gap").message).toMatch(/--at "2027-03-28T02:30" is not a date and time that exists/);
    expect((await project.cli(["run", "noop", "--at", "2027-03-28T02:30Z", "--no-worker"], { env: { TZ: "Europe/Berlin" } })).code).toBe(0);

    const past = await project.cli(["run", "noop", "--at", "2020-01-01T00:00Z", "--no-worker"]);
    expect(past.code).toBe(0);
    expect(past.stderr).toMatch(/^bgtask: --at 2020-01-01T00:00Z was \d+d ago; the task is due at once$/);
    const task = await project.status(past.stdout.trim());
    expect(["queued", "scheduled"]).toContain(task.status);
    const future = await project.cli(["run", "noop", "--at", "2999-01-01T00:00Z", "--no-worker"]);
    expect(future.stderr).toBe("");
  });
});

describe("contexts at the edge", () => {
  it("the 1 MiB limit holds for the merged context: key=value pairs, and pairs merged onto --ctx-file or each --each line", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const blob = "x".repeat(120 * 1024);
    const nine = Array.from({ length: 9 }, (_, i) => `k${i}=${blob}`);
    const file = join(project.dir, "ctx.json");
    writeFileSync(file, JSON.stringify({ a: "y".repeat(960 * 1024) }));
    const each = join(project.dir, "each.jsonl");
    writeFileSync(each, `{"n":1}\n${JSON.stringify({ a: "y".repeat(960 * 1024) })}\n`);
    const tooBig =
      /^bgtask: the context of (the task|line 2 of .*each\.jsonl) is larger than 1024 KiB \(\d+ KiB with every source merged\); pass a file path in the context instead$/;
    for (const args of [
      ["run", "noop", ...nine],
      ["run", "noop", "--ctx-file", file, "k=" + "z".repeat(100 * 1024)],
      ["run", "noop", "--each", each, "k=" + "z".repeat(100 * 1024)],
    ]) {
      const result = await project.cli(args);
      expect(result.code, args[2]).toBe(2);
      expect(result.stderr.trim(), args[2]).toMatch(tooBig);
    }
    expect(project.journalBytes()).toBeNull();
    // Below the limit it is stored whole.
    const id = await project.run("noop", ["--no-worker", ...nine.slice(0, 8)]);
    expect(Object.keys((await project.status(id)).context)).toHaveLength(8);
  });

  it("invalid UTF-8 in --ctx-file, --each or stdin is refused, naming the line, never turned into U+FFFD", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const bad = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]); // {"a":"\xff\xfe"}
    const file = join(project.dir, "ctx.json");
    writeFileSync(file, bad);
    const each = join(project.dir, "each.jsonl");
    writeFileSync(each, Buffer.concat([Buffer.from('{"n":1}\n{"n":2}\n'), bad, Buffer.from("\n")]));
    const truncated = join(project.dir, "truncated.json");
    writeFileSync(truncated, Buffer.from('{"a":"\xe6\x95"}', "latin1")); // the first two bytes of 数
    const cases: Array<[string[], RegExp, Buffer?]> = [
      [["run", "noop", "--ctx-file", file], /--ctx-file .*ctx\.json is not valid UTF-8 \(line 1\); save it as UTF-8/],
      [["run", "noop", "--each", each], /--each .*each\.jsonl is not valid UTF-8 \(line 3\)/],
      [["run", "noop", "--ctx-file", truncated], /truncated\.json is not valid UTF-8 \(line 1\)/],
      [["run", "noop", "--each", "-"], /--each stdin is not valid UTF-8 \(line 1\)/, bad],
    ];
    for (const [args, says, input] of cases) {
      const result = await project.cli(args, input ? { stdin: new Uint8Array(input) } : {});
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toMatch(says);
    }
    expect(project.journalBytes()).toBeNull();
    writeFileSync(file, JSON.stringify({ a: "数据 🎉" }));
    expect((await project.status(await project.run("noop", ["--no-worker", "--ctx-file", file]))).context).toEqual({ a: "数据 🎉" });
  });

  it("a key=value integer beyond 2^53 is kept as the string typed", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const id = await project.run("noop", ["--no-worker", "order=12345678901234567890", "small=42"]);
    expect((await project.status(id)).context).toEqual({ order: "12345678901234567890", small: 42 });
  });

  it("a bgtask.config.json holding an array is refused, not read as an empty config", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    writeFileSync(join(project.dir, "bgtask.config.json"), "[]");
    for (const args of [["list"], ["run", "noop"]]) {
      const result = await project.cli(args);
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(`bgtask: ${join(project.dir, "bgtask.config.json")} must hold a JSON object like {"concurrency": 2}, not an array`);
    }
    expect(project.journalBytes()).toBeNull();
  });
});

describe("list", () => {
  it("says it left tasks out only when it did, in words that match what it shows, and takes any limit", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    for (let i = 0; i < 3; i++) await project.run("noop", ["--no-worker"]);
    const exact = await project.cli(["list", "--limit", "3"]);
    expect(exact.code).toBe(0);
    expect(exact.stderr).toBe("");
    const cut = await project.cli(["list", "--limit", "2"]);
    expect(cut.stdout.trim().split("\n")).toHaveLength(3);
    expect(cut.stderr).toBe("(2 shown, the active tasks first, then the most recently finished: --limit N shows more, --status or --executor narrows)");
    // Narrowed already: the hint does not suggest what was done.
    const narrowed = await project.cli(["list", "--status", "queued", "--limit", "1"]);
    expect(narrowed.stderr).toBe("(1 shown, the active tasks first, then the most recently finished: --limit N shows more)");
    for (const limit of ["100000000", "123456789012345678901234567890"]) {
      const result = await project.cli(["list", "--limit", limit, "--json"]);
      expect(result.code, `${limit}: ${result.stderr}`).toBe(0);
      expect(JSON.parse(result.stdout)).toHaveLength(3);
    }
    expect((await project.cli(["list", "--limit", "0"])).stderr).toMatch(/--limit "0" is not a positive whole number/);
  });

  it("shows when a finished task ended, the time `remove --older-than` counts from, beside its age", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const done = await project.run("noop");
    await project.waitForTask(done, (t) => t.completed);
    const waiting = await project.run("noop", ["--delay", "1h"]);
    const lines = (await project.cli(["list"])).stdout.split("\n");
    expect(lines[0]).toMatch(/^ID\s+EXECUTOR\s+STATUS\s+PROGRESS\s+TRIES\s+AGE\s+ENDED\s+MESSAGE$/);
    const ended = lines[0]!.indexOf("ENDED");
    const row = (id: string) => lines.find((l) => l.startsWith(`${id} `))!;
    expect(row(done).slice(ended)).toMatch(/^\d+(ms|s)\s+nothing done$/);
    expect(row(waiting).slice(ended).trim()).toBe("-");
    expect((await project.cli(["remove", "--help"])).stdout).toMatch(/list's\s+ENDED\s+column/);
    // Finished a moment ago, by ENDED: --older-than 1h keeps it, as the column says it should.
    expect(JSON.parse((await project.cli(["remove", "--finished", "--older-than", "1h", "--json"])).stdout)).toEqual({ removed: [] });
  });

  it('outside any project says there is none and where it looked, instead of "no tasks"', async () => {
    const bare = mkdtempSync(join(tmpdir(), "bgtask-bare-"));
    onTestFinished(() => rmSync(bare, { recursive: true, force: true }));
    const inside = join(bare, "a", "b");
    mkdirSync(inside, { recursive: true });
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BGTASK_")));
    const cli = async (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => {
      const result = await execa(process.execPath, [BIN, ...args], {
        cwd: inside,
        env: { ...env, ...extra, NO_COLOR: "1" },
        extendEnv: false,
        reject: false,
        stdin: "ignore",
      });
      return { code: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
    };
    const sentence = `no bgtask project here: none of bgtask.config.json, tasks, package.json is in ${inside} or a folder above it; run bgtask inside your project, or name it with --root DIR`;
    for (const args of [["list"], ["status", "1"], ["run", "noop"]]) {
      const result = await cli(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toBe(`bgtask: ${sentence}`);
    }
    expect(jsonError(await cli(["list", "--json"]), "list --json")).toEqual({ code: "ENOPROJECT", message: sentence });
    expect(existsSync(join(inside, ".bgtask"))).toBe(false);
    // A home named outright is a journal to read, project or not.
    const named = await cli(["list"], { BGTASK_HOME: join(bare, "home") });
    expect(named.code).toBe(0);
    expect(named.stdout).toBe("no tasks");
  });
});

describe("retry and cancel take several ids, like remove and watch", () => {
  it("cancel cancels every id given, or none when one cannot be cancelled", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const done = await project.run("noop");
    await project.waitForTask(done, (t) => t.completed);
    // Queued tasks stay queued only once no worker is left to take them.
    await waitFor(
      () => project.workers().length === 0,
      30_000,
      () => "the worker never went idle",
    );
    const [a, b, c] = [
      await project.run("noop", ["--no-worker"]),
      await project.run("noop", ["--delay", "1h", "--no-worker"]),
      await project.run("noop", ["--no-worker"]),
    ];
    const before = sha256(project.journalBytes());
    const refused = await project.cli(["cancel", a, done, b, "--json"]);
    expect(jsonError(refused, "cancel with a finished one")).toEqual({
      code: "EFINAL",
      message: `task ${done} has already ended (succeeded); there is nothing to cancel; none of the 3 tasks was changed`,
    });
    const missing = await project.cli(["cancel", a, "999"]);
    expect(missing.stderr.trim()).toBe(`bgtask: no task with id "999"; \`bgtask list\` shows the tasks there are; none of the 2 tasks was changed`);
    expect(sha256(project.journalBytes())).toBe(before);

    const cancelled = await project.cli(["cancel", a, b, "--json"]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect((JSON.parse(cancelled.stdout) as Array<{ id: string; status: string }>).map((t) => [t.id, t.status])).toEqual([
      [a, "cancelled"],
      [b, "cancelled"],
    ]);
    const text = await project.cli(["cancel", c]);
    expect(text.stdout).toBe(`${c} cancelled`);
  });

  it("retry retries every id given, or none when one is not final", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const ids = [await project.run("noop"), await project.run("noop")];
    for (const id of ids) await project.waitForTask(id, (t) => t.completed);
    await waitFor(
      () => project.workers().length === 0,
      30_000,
      () => "the worker never went idle",
    );
    const waiting = await project.run("noop", ["--delay", "1h"]);
    const before = sha256(project.journalBytes());
    const refused = await project.cli(["retry", ids[0]!, waiting, ids[1]!, "--no-worker"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`^bgtask: task ${waiting} cannot be retried: it is already scheduled to run at .*; none of the 3 tasks was changed$`),
    );
    expect(sha256(project.journalBytes())).toBe(before);

    const retried = await project.cli(["retry", ...ids, "--no-worker"]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toBe(ids.join("\n"));
    for (const id of ids) expect(await project.status(id)).toMatchObject({ status: "queued", tries: 1 });
    const json = await project.cli(["cancel", ...ids, "--json"]);
    expect((JSON.parse(json.stdout) as unknown[]).length).toBe(2);
  });
});

describe("status of a failed task", () => {
  it("prints the stack once, the executor's frames first, bgtask's own only with BGTASK_DEBUG=1", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "boom.ts": [
          'import { defineTask } from "bgtask";',
          'function inner(): never { throw new Error("kaboom"); }',
          "export default defineTask({ async run() { inner(); } });",
        ].join("\n"),
      },
    });
    const id = await project.run("boom");
    await project.waitForTask(id, (t) => t.completed);
    expect((await project.status(id)).error!.stack).toMatch(/dist\/worker\/main\.js/);
    const shown = (await project.cli(["status", id])).stdout;
    expect(shown.match(/at inner \(/g)).toHaveLength(1);
    expect(shown).not.toMatch(/dist\//);
    expect(shown).toMatch(
      / {6}at inner \(.*tasks\/boom\.ts:2:\d+\)\n {6}at Object\.run \(.*tasks\/boom\.ts:3:\d+\)\n(?: {6}at .*\n)*? {6}… \d+ frames inside bgtask \(BGTASK_DEBUG=1 shows them\)\n/,
    );
    // The log says which try failed and where; the stack is the record's, shown above it.
    expect(shown).toMatch(/bgtask try 1 failed: kaboom \(tasks\/boom\.ts:2\)$/m);
    const debug = (await project.cli(["status", id], { env: { BGTASK_DEBUG: "1" } })).stdout;
    expect(debug.match(/at inner \(/g)).toHaveLength(1);
    expect(debug).toMatch(/at .*dist\/worker\/main\.js:\d+:\d+/);
    expect(debug).not.toContain("frames inside bgtask");
  });
});

describe("an executor that failed to load", () => {
  it("shows why it was not retried instead of `tries 1 of 4 (0 remaining)`", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "brk.ts": 'import { defineTask } from "bgtask";\nexport default defineTask({ retry: { tries: 3, interval: "1s" }, async run() { return {}; } });\n',
      },
    });
    const id = await project.run("brk", ["--no-worker"]);
    project.writeTask("brk.ts", "export default {{{\n");
    expect((await project.cli(["tick", "--max-time", "10s"])).code).toBe(0);
    const task = await project.waitForTask(id, (t) => t.completed);
    expect(task).toMatchObject({ status: "failed", tries: 1, maxTries: 4, remainingTries: 0 });
    const shown = (await project.cli(["status", id])).stdout;
    expect(shown).toMatch(/^tries {7}1 of 4 \(not retried: this error ends the task at once\)$/m);
    expect(shown).not.toMatch(/0 remaining/);
  });
});

describe("logs of a silent task", () => {
  it("says there is no output, on stderr, so stdout stays empty for a redirect", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const id = await project.run("noop");
    await project.waitForTask(id, (t) => t.completed);
    for (const args of [
      ["logs", id],
      ["logs", id, "--follow"],
    ]) {
      const result = await project.cli(args);
      expect(result.code, args.join(" ")).toBe(0);
      expect(result.stdout, args.join(" ")).toBe("");
      expect(result.stderr, args.join(" ")).toBe(`(no output: task ${id} has printed and logged nothing)`);
    }
    const waiting = await project.run("noop", ["--delay", "1h", "--no-worker"]);
    expect((await project.cli(["logs", waiting])).stderr).toBe(`(no output: task ${waiting} has printed and logged nothing yet)`);
    const json = await project.cli(["logs", id, "--json"]);
    expect([json.stdout, json.stderr]).toEqual(["[]", ""]);
  });
});

describe("tables count terminal columns", () => {
  it("status lines up attachments named in CJK and emoji with the ASCII ones", async () => {
    const project = useProject(onTestFinished, {
      tasks: {
        "report.ts": [
          'import { defineTask } from "bgtask";',
          "export default defineTask({",
          "  async run(task) {",
          '    await task.attach("报告🎉.csv", "a,b\\n");',
          '    await task.attach("plain.csv", "a,b\\n");',
          "    return {};",
          "  },",
          "});",
        ].join("\n"),
      },
    });
    const id = await project.run("report");
    await project.waitForTask(id, (t) => t.completed);
    const lines = (await project.cli(["status", id])).stdout.split("\n");
    const rows = lines.filter((l) => /^ {2}(NAME|报告|plain)/.test(l));
    expect(rows).toHaveLength(3);
    // Where SIZE and each size begin, in terminal columns.
    const starts = rows.map((l) => stringWidth(l.slice(0, l.search(/SIZE|\d+ B/))));
    expect(new Set(starts).size, rows.join("\n")).toBe(1);
  });

  it("list cuts a message in CJK and emoji to its 60 columns, as it cuts an ASCII one", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "wide.ts": 'import { defineTask } from "bgtask"; export default defineTask({ run: () => ({ message: "数据导入完成🎉".repeat(20) }) });' },
    });
    const id = await project.run("wide");
    await project.waitForTask(id, (t) => t.completed);
    const row = (await project.cli(["list"])).stdout.split("\n").find((l) => l.startsWith(id))!;
    const message = row.slice(row.indexOf("数"));
    expect(message.endsWith("…")).toBe(true);
    expect(stringWidth(message)).toBeLessThanOrEqual(60);
    expect(stringWidth(message)).toBeGreaterThanOrEqual(58);
  });
});
