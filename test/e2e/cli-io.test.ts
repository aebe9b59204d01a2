// What a newcomer types and what comes back (issue 15): usage errors honour --json, durations and
// dates mean what they say, contexts stay within their limit, the empty cases say so, and what
// `list`, `status`, `retry`, `cancel` and `logs` print is what a user expects.
import { describe, expect, it, onTestFinished } from "vitest";
import { fixture } from "../helpers/fixtures.ts";
import { sha256 } from "../helpers/journal.ts";
import { useProject, type CliResult } from "../helpers/project.ts";

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
      [["retry", "--json"], /missing required argument 'id'/],
      [["cancel", "--json"], /missing required argument 'id'/],
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
    ];
    for (const [args, says] of cases) {
      const error = jsonError(await project.cli(args), args.join(" "));
      expect(error, args.join(" ")).toMatchObject({ code: "EUSAGE", message: expect.stringMatching(says) });
    }
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
  });

  it("--at refuses dates and times that do not exist, and says on stderr when the time is past", async () => {
    const project = useProject(onTestFinished, { tasks: { "noop.js": fixture("noop.js") } });
    for (const at of ["2026-02-30T08:00", "2027-02-29", "2026-04-31T08:00", "2026-12-01T24:00", "2026-12-01T08:60", "2026-13-01T08:00", "2026-12-01T08:00+25:00"]) {
      const result = await project.cli(["run", "noop", "--at", at, "--json"]);
      expect(jsonError(result, at).message, at).toBe(`--at "${at}" is not a date and time that exists, like 2026-12-01T08:00 (local) or 2026-12-01T08:00:00Z`);
    }
    expect(project.journalBytes()).toBeNull();

    const leap = await project.status(await project.run("noop", ["--at", "2028-02-29T08:00Z", "--no-worker"]));
    expect(leap.nextRunAt).toBe("2028-02-29T08:00:00.000Z");
    const local = await project.cli(["run", "noop", "--at", "2028-03-01T08:00", "--no-worker", "--json"], { env: { TZ: "Asia/Tokyo" } });
    expect((JSON.parse(local.stdout) as { nextRunAt: string }).nextRunAt).toBe("2028-02-29T23:00:00.000Z");

    const past = await project.cli(["run", "noop", "--at", "2020-01-01T00:00Z", "--no-worker"]);
    expect(past.code).toBe(0);
    expect(past.stderr).toMatch(/^bgtask: --at 2020-01-01T00:00Z was \d+d ago; the task is due at once$/);
    const task = await project.status(past.stdout.trim());
    expect(["queued", "scheduled"]).toContain(task.status);
    const future = await project.cli(["run", "noop", "--at", "2999-01-01T00:00Z", "--no-worker"]);
    expect(future.stderr).toBe("");
  });
});
