// bgtask.config.json as users write it: mistakes are told in words (which key, what it must
// hold), keys bgtask does not act on yet are refused rather than ignored, and the JSON Schema the
// package ships for editors is the one bgtask validates with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { CONFIG_KEYS } from "../../src/config/config-file.ts";
import { fixture } from "../helpers/fixtures.ts";
import { REPO, useProject } from "../helpers/project.ts";

const KNOWN = "known keys: $schema, tasksDir, home, journal, concurrency, worker, retry, timeout, retention, grace, executors";

describe("bgtask.config.json errors", () => {
  const cases: Array<{ name: string; config: Record<string, unknown>; says: string }> = [
    { name: "an unknown key", config: { concurrency: 2, bogus: true }, says: `unknown key \`bogus\`; ${KNOWN}` },
    { name: "a value of the wrong kind", config: { concurrency: "two" }, says: '`concurrency` must be a whole number from 1 to 256, not "two"' },
    { name: "a number out of range", config: { concurrency: 0 }, says: "`concurrency` must be a whole number from 1 to 256, not 0" },
    {
      name: "an executor's concurrency out of range",
      config: { executors: { noop: { concurrency: 0 } } },
      says: '`executors` must be an object of settings per executor name, like {"resize": {"concurrency": 2, "priority": 1}} (concurrency: a whole number of 1 or more; priority: a whole number of 0 or more), not {"noop":{"concurrency":0}}',
    },
    { name: "a duration of the wrong kind", config: { timeout: true }, says: '`timeout` must be a duration like "10m", or a number of milliseconds, not true' },
    {
      name: "schedules, which do not exist yet",
      config: { schedules: [{ name: "nightly", cron: "0 3 * * *", executor: "noop" }] },
      says: "`schedules` are not supported yet, and bgtask would not run them: remove the key (until schedules exist, start tasks from cron with `bgtask run`)",
    },
  ];

  for (const { name, config, says } of cases) {
    it(`${name}: one sentence naming the file and the key, exit 2, nothing written; --json as an error object`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, config });
      const path = join(project.dir, "bgtask.config.json");
      const text = await project.cli(["run", "noop"]);
      expect(text.code).toBe(2);
      expect(text.stderr).toBe(`bgtask: ${path}: ${says}`);
      const json = await project.cli(["list", "--json"]);
      expect(json.code).toBe(2);
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: "EUSAGE", message: `${path}: ${says}` } });
      expect(project.journalBytes()).toBeNull();
    });
  }

  it("accepts a $schema key pointing at the shipped schema", async () => {
    const project = useProject(onTestFinished, {
      tasks: { "noop.js": fixture("noop.js") },
      config: { $schema: "./node_modules/bgtask/dist/bgtask.config.schema.json", concurrency: 1 },
    });
    const run = await project.cli(["run", "noop", "--follow"]);
    expect(run.code, run.stderr).toBe(0);
  });
});

describe("the JSON Schema of bgtask.config.json", () => {
  const schema = JSON.parse(readFileSync(join(REPO, "dist/bgtask.config.schema.json"), "utf8")) as {
    $schema: string;
    additionalProperties: boolean;
    properties: Record<string, { description?: string }>;
  };

  it("is built from the schema bgtask validates with: the same keys, no others allowed, each described", () => {
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(Object.keys(schema.properties)).toEqual(CONFIG_KEYS);
    expect(schema.additionalProperties).toBe(false);
    for (const [key, property] of Object.entries(schema.properties)) expect(property.description, key).toBeTruthy();
  });

  it("covers every key of the README's example config, and the README shows its $schema line", () => {
    const readme = readFileSync(join(REPO, "README.md"), "utf8");
    const example = /which win over `bgtask\.config\.json`:\n\n```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const config = JSON.parse(example!) as Record<string, unknown>;
    expect(config.$schema).toBe("./node_modules/bgtask/dist/bgtask.config.schema.json");
    for (const key of Object.keys(config)) expect(schema.properties, key).toHaveProperty([key]);
  });
});
