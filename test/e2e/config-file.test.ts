// bgtask.config.json as users write it: mistakes are told in words (which key, what it must
// hold), keys bgtask does not act on yet are refused rather than ignored, and the JSON Schema the
// package ships for editors is the one bgtask validates with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { CONFIG_KEYS } from "../../src/config/config-file.ts";
import { fixture } from "../helpers/fixtures.ts";
import { REPO, useProject } from "../helpers/project.ts";

const KNOWN =
  "known keys: $schema, tasksDir, home, journal, concurrency, workers, maxTasksPerWorker, maxWorkerMemoryMb, worker, tickScope, retry, timeout, retention, grace, schedules, preload, hooks, executors, metrics";

function expectsHooks(shown: string): string {
  return `\`hooks\` must be an object of commands per final status (succeeded, failed, cancelled), each an argument list like {"failed": ["notify-send", "bgtask"]}, not ${shown}`;
}

describe("bgtask.config.json errors", () => {
  const cases: Array<{ name: string; config: Record<string, unknown>; says: string }> = [
    { name: "an unknown key", config: { concurrency: 2, bogus: true }, says: `unknown key \`bogus\`; ${KNOWN}` },
    { name: "a value of the wrong kind", config: { concurrency: "two" }, says: '`concurrency` must be a whole number from 1 to 10000, not "two"' },
    { name: "a number out of range", config: { concurrency: 0 }, says: "`concurrency` must be a whole number from 1 to 10000, not 0" },
    { name: "a worker count out of range", config: { workers: 300 }, says: "`workers` must be a whole number from 1 to 256, not 300" },
    { name: "a memory ceiling too low", config: { maxWorkerMemoryMb: 8 }, says: "`maxWorkerMemoryMb` must be a whole number of megabytes, 32 or more, not 8" },
    {
      name: "an executor's concurrency out of range",
      config: { executors: { noop: { concurrency: 0 } } },
      says: '`executors` must be an object of settings per executor name, like {"resize": {"concurrency": 2, "priority": 1}} (concurrency: a whole number of 1 or more; priority: a whole number of 0 or more; isolation: "inline", "thread" or "process"), not {"noop":{"concurrency":0}}',
    },
    {
      name: "a tickScope that is neither",
      config: { tickScope: "planet" },
      says: '`tickScope` must be "cluster" (one tick at a time for all hosts) or "host" (one per host), not "planet"',
    },
    { name: "a duration of the wrong kind", config: { timeout: true }, says: '`timeout` must be a duration like "10m", or a number of milliseconds, not true' },
    { name: "a hook that is not an argument list", config: { hooks: { failed: "notify-send bgtask" } }, says: expectsHooks('{"failed":"notify-send bgtask"}') },
    { name: "a hook for a status that is not final", config: { hooks: { running: ["true"] } }, says: expectsHooks('{"running":["true"]}') },
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

describe("bgtask.config.json schedules errors", () => {
  const nightly = { name: "nightly", cron: "0 3 * * *", executor: "noop" };
  const cases: Array<{ name: string; schedules: unknown; says: string }> = [
    {
      name: "a bad cron expression",
      schedules: [{ ...nightly, cron: "61 * * * *" }],
      says: 'schedule "nightly" in bgtask.config.json: `cron` "61 * * * *" is not a cron expression: Invalid value for minute: 61',
    },
    {
      name: "a cron expression with 7 fields",
      schedules: [{ ...nightly, cron: "0 0 3 * * * 2030" }],
      says: 'schedule "nightly" in bgtask.config.json: `cron` "0 0 3 * * * 2030" has 7 fields; write 5 (minute hour day month weekday) or 6 (seconds first)',
    },
    {
      name: "an unknown executor",
      schedules: [{ ...nightly, executor: "report" }],
      says: 'schedule "nightly" in bgtask.config.json: no executor "report": looked for report',
    },
    {
      name: "a duplicate name",
      schedules: [nightly, { ...nightly, cron: "0 4 * * *" }],
      says: 'schedule "nightly" in bgtask.config.json: the name is used by another schedule; give each its own',
    },
    {
      name: "a bad time zone",
      schedules: [{ ...nightly, timezone: "Mars/Base" }],
      says: 'schedule "nightly" in bgtask.config.json: `timezone` "Mars/Base" is not an IANA time zone like "Europe/Berlin"',
    },
    {
      name: "a bad catchUp",
      schedules: [{ ...nightly, catchUp: "soon" }],
      says: 'schedule "nightly" in bgtask.config.json: `catchUp` "soon" is not a duration like "1h" or "30m"',
    },
    {
      name: "a context that is not an object",
      schedules: [{ ...nightly, context: [1] }],
      says: 'schedule "nightly" in bgtask.config.json: `context` must be a JSON object',
    },
    {
      name: "an entry with no name",
      schedules: [{ cron: "0 3 * * *", executor: "noop" }],
      says: "schedule 1 in bgtask.config.json: `name` must be a non-empty string",
    },
    { name: "an unknown key in an entry", schedules: [{ ...nightly, every: "1h" }], says: 'schedule "nightly" in bgtask.config.json: unknown key `every`' },
    { name: "schedules that are not a list", schedules: { nightly }, says: "bgtask.config.json: `schedules` must be a list of schedules" },
  ];

  for (const { name, schedules, says } of cases) {
    it(`${name}: exit 2 with one sentence naming the entry, for every command, nothing written`, async () => {
      const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") }, config: { schedules } });
      for (const args of [["run", "noop"], ["schedules"], ["tick"], ["work", "--once"]]) {
        const result = await project.cli(args);
        expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
        const lines = result.stderr.trimEnd().split("\n");
        expect(lines, args.join(" ")).toHaveLength(1);
        expect(lines[0]!.startsWith(`bgtask: ${says}`), `${args.join(" ")}: ${lines[0]}`).toBe(true);
      }
      const json = await project.cli(["schedules", "--json"]);
      expect(json.code).toBe(2);
      expect((JSON.parse(json.stdout) as { error: { message: string } }).error.message.startsWith(says)).toBe(true);
      expect(project.journalBytes()).toBeNull();
    });
  }
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

  it("covers every key of the example config in docs/configuration.md, which shows its $schema line", () => {
    const page = readFileSync(join(REPO, "docs/configuration.md"), "utf8");
    const example = /which win over `bgtask\.config\.json`:\n\n```json\n([\s\S]*?)```/.exec(page)?.[1];
    expect(example).toBeDefined();
    const config = JSON.parse(example!) as Record<string, unknown>;
    expect(config.$schema).toBe("./node_modules/bgtask/dist/bgtask.config.schema.json");
    for (const key of Object.keys(config)) expect(schema.properties, key).toHaveProperty([key]);
  });
});
