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
