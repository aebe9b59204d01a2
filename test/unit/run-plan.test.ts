// The run plan: the one check of `run`'s options behind the CLI and the client. Flags come as text,
// a JavaScript caller's values as numbers, Dates and objects too; the plan is the same, and a
// refusal names the option as its caller spells it.
import { describe, expect, it } from "vitest";
import { runPlan, type RunOptions } from "../../src/client/run-plan.ts";
import { UsageError } from "../../src/errors.ts";

const NOW = new Date("2026-06-01T12:00:00.000Z");

describe("run plan", () => {
  it("without options: due at once, the executor's settings, a worker", () => {
    const plan = runPlan({}, "flag");
    expect(plan).toMatchObject({ retry: null, worker: true, priority: null, key: null, replace: false, after: [], pinnedHost: null });
    expect(plan.runAt(NOW)).toBeNull();
  });

  it("options as text (flags) and as values (JavaScript) make the same plan", () => {
    const asText = runPlan({ delay: "10m", retry: "3x1s", priority: "2", key: "k", replace: true, after: "4, 2,4", on: "build-01", worker: false }, "flag");
    const asValues = runPlan(
      { delay: 600_000, retry: { tries: 3, interval: "1s" }, priority: 2, key: "k", replace: true, after: ["4", "2"], on: "build-01", worker: false },
      "field",
    );
    expect(asText.runAt(NOW)).toEqual(new Date(NOW.getTime() + 600_000));
    expect(asValues.runAt(NOW)).toEqual(asText.runAt(NOW));
    expect({ ...asValues, runAt: null }).toEqual({ ...asText, runAt: null });
    expect(asText).toMatchObject({ priority: 2, key: "k", replace: true, after: ["4", "2"], pinnedHost: "build-01", worker: false });
    const at = new Date("2026-12-01T08:00:00.000Z");
    expect(runPlan({ at: "2026-12-01T08:00:00Z" }, "flag").runAt(NOW)).toEqual(at);
    expect(runPlan({ at }, "field").runAt(NOW)).toEqual(at);
  });

  const refused: Array<[string, RunOptions, string, string]> = [
    ["delay and at", { delay: "1m", at: "2026-12-01T08:00" }, "use --delay or --at, not both", "use delay or at, not both"],
    ["a delay without unit", { delay: "10" }, '--delay "10" has no unit', 'delay "10" has no unit'],
    ["a negative delay", { delay: -1 }, "--delay -1 is not a duration", "delay -1 is not a duration"],
    ["a time that does not exist", { at: "2026-02-30T08:00" }, '--at "2026-02-30T08:00" is not a date and time', "at 2026-02-30T08:00 is not a date and time"],
    ["an invalid Date", { at: new Date(Number.NaN) }, '--at "Invalid Date" is not a date and time', "at Invalid Date is not a date and time"],
    ["a bad retry", { retry: "3y1s" }, "--retry: ", "retry: "],
    ["a negative priority", { priority: -1 }, "--priority -1 is not a whole number", "priority -1 is not a whole number"],
    ["an empty key", { key: "" }, "--key must be text of 1 to 256 characters", "key must be text of 1 to 256 characters"],
    ["replace without key", { replace: true }, "--replace goes with --key", "replace goes with key"],
    ["after without ids", { after: [] }, "--after needs the ids of tasks", "after needs the ids of tasks"],
    ["a host name with a space", { on: "build 01" }, '--on "build 01" is not a host name', 'on "build 01" is not a host name'],
  ];
  it.each(refused)("refuses %s, naming the option as the caller spells it", (_, options, asFlag, asField) => {
    for (const [spelling, says] of [
      ["flag", asFlag],
      ["field", asField],
    ] as const) {
      let error: unknown;
      try {
        runPlan(options, spelling);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message.startsWith(says), `${spelling}: ${(error as Error).message}`).toBe(true);
    }
  });
});
