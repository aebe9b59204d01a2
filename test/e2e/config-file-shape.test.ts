// bgtask.config.json that is not an object of settings, or whose values are of the wrong shape
// deep down (a retry policy, an empty path): one sentence, exit 2, nothing written, for every
// command, before anything else is looked at.
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { type Project, useProject } from "../helpers/project.ts";

/** Runs a writing and a reading command against the config `text`: each refused with `says`, nothing written. */
async function expectRefused(project: Project, text: string, says: string): Promise<void> {
  const path = join(project.dir, "bgtask.config.json");
  writeFileSync(path, text);
  const before = readdirSync(project.dir).sort();
  const mode = statSync(project.dir).mode;
  for (const args of [["run", "noop"], ["list"], ["work", "--once"]]) {
    const result = await project.cli(args);
    expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
    expect(result.stderr, args.join(" ")).toBe(`bgtask: ${path}${says}`);
    expect(result.stdout).toBe("");
  }
  const json = await project.cli(["list", "--json"]);
  expect(json.code).toBe(2);
  expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EUSAGE", message: `${path}${says}` } });
  expect(existsSync(project.home)).toBe(false);
  expect(readdirSync(project.dir).sort()).toEqual(before);
  expect(statSync(project.dir).mode).toBe(mode);
}

describe("bgtask.config.json that is not a JSON object", () => {
  const cases: Array<[string, string]> = [
    ["null", "null"],
    ["true", "true"],
    ["false", "false"],
    ["0", "0"],
    ["5", "5"],
    ['"str"', '"str"'],
    ["[]", "an array"],
    ['[{"concurrency": 2}]', "an array"],
  ];
  for (const [text, shown] of cases) {
    it(`${text}: exit 2 with one sentence for every command, --json as an error object, nothing written`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
      await expectRefused(project, text, ` must hold a JSON object like {"concurrency": 2}, not ${shown}`);
    });
  }
});

describe("bgtask.config.json values of the wrong shape inside", () => {
  const RETRY =
    '`retry` must be a retry policy: a number of retries like 3, {"tries": 3, "interval": "1s"}, a list of such tiers, or {"tries": 8, "backoff": "exponential", "interval": "1s"}';
  const cases: Array<{ name: string; config: Record<string, unknown>; says: string }> = [
    // An empty home or journal would be the project folder itself: made 0700, given a .gitignore of `*`.
    { name: "an empty home", config: { home: "" }, says: '`home` must be a path (a non-empty string), not ""' },
    { name: "an empty journal", config: { journal: "" }, says: '`journal` must be a folder or a postgres:// URL (a non-empty string), not ""' },
    { name: "an empty tasksDir", config: { tasksDir: "" }, says: '`tasksDir` must be a path (a non-empty string), not ""' },
    { name: "a retry of null", config: { retry: null }, says: `${RETRY}, not null` },
    { name: "a retry of a string", config: { retry: "3x1s" }, says: `${RETRY}, not "3x1s"` },
    {
      name: "a retry interval that is not a duration",
      config: { retry: { tries: 3, interval: true } },
      says: 'retry.interval true is not a duration like "500ms", "5s" or "10m"',
    },
    {
      name: "a misspelt retry key",
      config: { retry: { tries: 3, intervall: "1s" } },
      says: "retry has an unknown key `intervall`; known keys: tries, interval, backoff, maxInterval",
    },
    { name: "a retry tier that is not an object", config: { retry: [3] }, says: 'retry[0] must be an object like {"tries": 3, "interval": "1s"}, got 3' },
    {
      name: "an unknown key in a retry tier",
      config: { retry: [{ tries: 1, interval: "1s", backoff: "exponential" }] },
      says: "retry[0] has an unknown key `backoff`; known keys: tries, interval",
    },
    {
      name: "a maxInterval without exponential backoff",
      config: { retry: { tries: 3, maxInterval: "1m" } },
      says: 'retry.maxInterval caps exponential backoff: it needs "backoff": "exponential"',
    },
  ];
  for (const { name, config, says } of cases) {
    it(`${name}: exit 2 with one sentence naming the key, nothing written`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
      await expectRefused(project, JSON.stringify(config), `: ${says}`);
    });
  }
});

describe("a location flag or variable left empty", () => {
  it("names nothing: the default home is used, never the project folder itself", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    const mode = statSync(project.dir).mode;
    const run = await project.cli(["run", "--no-worker", "noop"], { env: { BGTASK_HOME: "", BGTASK_JOURNAL: "" } });
    expect(run.code, run.stderr).toBe(0);
    const flagged = await project.cli(["run", "--no-worker", "--home", "", "--journal", "", "noop"]);
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(existsSync(project.journalPath)).toBe(true);
    expect(existsSync(join(project.dir, ".gitignore"))).toBe(false);
    expect(existsSync(join(project.dir, "journal.json"))).toBe(false);
    expect(statSync(project.dir).mode).toBe(mode);
    expect((await project.cli(["list", "--json"], { env: { BGTASK_HOME: "" } })).stdout).toContain('"noop"');
  });
});
