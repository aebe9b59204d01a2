// The rails around commands that act on many tasks, and the settings a deployment gives: a bare
// `bgtask` says what to type; --dry-run changes nothing; a person at a terminal confirms a large
// bulk change (a script does not); --config, BGTASK_CONFIG and the BGTASK_* variable of each
// config key, with bad values refused in one sentence and exit 2.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { hasScript, runInPty } from "../helpers/pty.ts";
import { describeOnJournals, type Project, useProject } from "../helpers/project.ts";

const TASKS = {
  "noop.js": fixture("noop.js"),
  "fails.js": `import { defineTask } from "bgtask"; export default defineTask({ run() { throw new Error("no"); } });`,
};

/** Stores `count` tasks of `executor` without starting a worker. */
async function queue(project: Project, executor: string, count: number): Promise<void> {
  const file = join(project.dir, `${executor}.jsonl`);
  writeFileSync(file, "{}\n".repeat(count));
  const stored = await project.cli(["run", "--no-worker", executor, "--each", file]);
  expect(stored.code, stored.stderr).toBe(0);
}

async function statuses(project: Project): Promise<Record<string, string>> {
  const listed = await project.cli(["list", "--json", "--limit", "1000"]);
  expect(listed.code, listed.stderr).toBe(0);
  return Object.fromEntries((JSON.parse(listed.stdout) as Array<{ id: string; status: string }>).map((t) => [t.id, t.status]));
}

describe("a bare bgtask", () => {
  it("prints one screen of help with examples and the docs' address, and exits 2", async () => {
    const project = useProject(onTestFinished);
    const bare = await project.cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe("");
    const lines = bare.stderr.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(25);
    expect(bare.stderr).toMatch(/^ {2}bgtask run hello --follow /m);
    expect(bare.stderr).toMatch(/^Docs: https:\/\/\S+$/m);
  });
});

describeOnJournals("--dry-run", () => {
  it("lists what retry --failed, cancel --all-queued and remove --finished would act on, and changes nothing", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    await queue(project, "fails", 2);
    const drained = await project.cli(["work", "--once"]);
    expect(drained.code, drained.stderr).toBe(0);
    await queue(project, "noop", 3);
    const before = await statuses(project);
    expect(Object.values(before).sort()).toEqual(["failed", "failed", "queued", "queued", "queued"]);

    const retry = await project.cli(["retry", "--failed", "--dry-run"]);
    expect(retry).toMatchObject({ code: 0, stderr: "" });
    expect(retry.stdout).toBe("would retry 2 tasks:\n1 fails failed\n2 fails failed\n--dry-run: nothing changed");
    const cancel = await project.cli(["cancel", "--all-queued", "--dry-run", "--json"]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ dryRun: true, tasks: [{ id: "3" }, { id: "4" }, { id: "5" }] });
    const remove = await project.cli(["remove", "--finished", "--older-than", "1d", "--dry-run"]);
    expect(remove).toMatchObject({ code: 0, stdout: "would remove 0 tasks\n--dry-run: nothing changed" });
    const doctor = await project.cli(["doctor", "--repair", "--dry-run"]);
    expect(doctor.code, doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/--dry-run: nothing repaired$/);

    expect(await statuses(project)).toEqual(before);
    // Alone it means nothing: refused, as any flag without the one it goes with.
    expect(await project.cli(["retry", "1", "--dry-run"])).toMatchObject({ code: 2, stderr: "bgtask: --dry-run goes with --failed" });
  });
});

describe.runIf(hasScript())("a bulk change at a terminal", () => {
  it("asks before cancelling more than 10 tasks, and a no changes nothing; a script (no terminal) is not asked", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    await queue(project, "noop", 11);
    const declined = runInPty(project, ["cancel", "--all-queued"], onTestFinished);
    await declined.waitForOutput(/cancel 11 tasks\? .*\[y\/N\] /);
    declined.type("n\r");
    expect(await declined.exited).toBe(0);
    expect(declined.output()).toMatch(/nothing changed/);
    expect(new Set(Object.values(await statuses(project)))).toEqual(new Set(["queued"]));

    const accepted = runInPty(project, ["cancel", "--all-queued"], onTestFinished);
    await accepted.waitForOutput(/\[y\/N\] /);
    accepted.type("y\r");
    expect(await accepted.exited).toBe(0);
    expect(new Set(Object.values(await statuses(project)))).toEqual(new Set(["cancelled"]));

    await queue(project, "noop", 11);
    const yes = runInPty(project, ["cancel", "--all-queued", "--yes"], onTestFinished);
    expect(await yes.exited).toBe(0);
    expect(yes.output()).not.toMatch(/\[y\/N\]/);
    await queue(project, "noop", 11);
    const script = await project.cli(["cancel", "--all-queued"]);
    expect(script.code, script.stderr).toBe(0);
    expect(script.stderr).toBe("");
    expect(new Set(Object.values(await statuses(project)))).toEqual(new Set(["cancelled"]));
  });
});

describe.runIf(hasScript())("journal copy at a terminal", () => {
  it("shows its progress on stderr, then clears it; piped, it prints only the summary", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    await queue(project, "noop", 3);
    const shown = runInPty(project, ["journal", "copy", "--from", ".bgtask", "--to", "copied"], onTestFinished);
    expect(await shown.exited).toBe(0);
    expect(shown.output()).toMatch(/copying logs and attachments: 0 of 3 tasks[\s\S]*\r\x1b\[Kcopied 3 tasks /);
    const piped = await project.cli(["journal", "copy", "--from", ".bgtask", "--to", "copied-again"]);
    expect(piped).toMatchObject({ code: 0, stderr: "", stdout: expect.stringMatching(/^copied 3 tasks /) });
  });
});

describe("settings from the environment and --config", () => {
  it("takes each config key from its BGTASK_* variable over the file, and the file from --config or BGTASK_CONFIG", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS, config: { timeout: "1m", retry: 1 } });
    const settings = async (env: Record<string, string>, args: string[] = []) => {
      const shown = await project.cli(["executors", "--json", ...args], { env });
      expect(shown.code, shown.stderr).toBe(0);
      const { executors } = JSON.parse(shown.stdout) as { executors: Array<{ name: string; settings: { timeoutMs: number; maxTries: number } }> };
      const { timeoutMs, maxTries } = executors.find((e) => e.name === "noop")!.settings;
      return { timeoutMs, maxTries };
    };
    expect(await settings({})).toEqual({ timeoutMs: 60_000, maxTries: 2 });
    expect(await settings({ BGTASK_TIMEOUT: "7m", BGTASK_RETRY: "2x1s,3x5s" })).toEqual({ timeoutMs: 420_000, maxTries: 6 });
    writeFileSync(join(project.dir, "other.json"), JSON.stringify({ timeout: "2m" }));
    expect(await settings({}, ["--config", "other.json"])).toEqual({ timeoutMs: 120_000, maxTries: 1 });
    expect(await settings({ BGTASK_CONFIG: join(project.dir, "other.json") })).toEqual({ timeoutMs: 120_000, maxTries: 1 });
    expect(await settings({ BGTASK_TIMEOUT: "5m" }, ["--config", "other.json"])).toEqual({ timeoutMs: 300_000, maxTries: 1 });
  });

  it("refuses a bad value in one sentence, exit 2, with the variable's name", async () => {
    const project = useProject(onTestFinished, { tasks: TASKS });
    for (const [name, value, said] of [
      ["BGTASK_CONCURRENCY", "lots", 'BGTASK_CONCURRENCY must be a whole number from 1 to 10000, not "lots"'],
      ["BGTASK_CONCURRENCY", "0", 'BGTASK_CONCURRENCY must be a whole number from 1 to 10000, not "0"'],
      ["BGTASK_WORKER", "maybe", 'BGTASK_WORKER must be true or false, not "maybe"'],
      ["BGTASK_TIMEOUT", "soon", 'BGTASK_TIMEOUT must be a duration like "10m", or a number of milliseconds, not "soon"'],
      ["BGTASK_RETENTION", "forever", 'BGTASK_RETENTION must be a duration like "7d", or a number of milliseconds, not "forever"'],
      ["BGTASK_TICK_SCOPE", "planet", 'BGTASK_TICK_SCOPE must be "cluster" (one tick at a time for all hosts) or "host" (one per host), not "planet"'],
      ["BGTASK_RETRY", "3x1", 'BGTASK_RETRY: "3x1" has an interval with no unit: write 3x1s for seconds'],
    ]) {
      const refused = await project.cli(["list"], { env: { [name!]: value! } });
      expect(refused, name).toMatchObject({ code: 2, stdout: "", stderr: `bgtask: ${said}` });
    }
    const json = await project.cli(["list", "--json"], { env: { BGTASK_CONCURRENCY: "lots" } });
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EUSAGE", message: 'BGTASK_CONCURRENCY must be a whole number from 1 to 10000, not "lots"' } });
    const missing = await project.cli(["list", "--config", "nope.json"]);
    expect(missing).toMatchObject({
      code: 2,
      stderr: `bgtask: the config file ${join(project.dir, "nope.json")} does not exist (named by --config or BGTASK_CONFIG)`,
    });
  });
});
