// core/duration.ts: durations as people write them, and back.
import { describe, expect, it } from "vitest";
import { formatDuration, tryParseDuration } from "../../src/core/duration.ts";

describe("tryParseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1w", 604_800_000],
    ["1.5s", 1_500],
    [" 5s ", 5_000],
    ["250", 250],
    ["0", 0],
    ["5S", 5_000],
  ])("%j is %d ms", (text, ms) => {
    expect(tryParseDuration(text)).toBe(ms);
  });

  it.each([
    "-1",
    "-5s",
    "10y",
    "1yr",
    "tomorrow-ish",
    "",
    "s",
    "5 minutes",
    "1e3",
    "Infinity",
    "NaN",
    "0x10",
    "1s2",
    "367d",
  ])("%j is not a duration", (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
  });

  it("takes numbers as milliseconds within bounds", () => {
    expect(tryParseDuration(1234)).toBe(1234);
    expect(tryParseDuration(0)).toBe(0);
    expect(tryParseDuration(-1)).toBeUndefined();
    expect(tryParseDuration(Number.NaN)).toBeUndefined();
    expect(tryParseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(tryParseDuration(400 * 24 * 3_600_000)).toBeUndefined();
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0ms"],
    [999, "999ms"],
    [1_000, "1s"],
    [59_400, "59s"],
    [60_000, "1m"],
    [90_000, "1m 30s"],
    [3_600_000, "1h"],
    [5_400_000, "1h 30m"],
    [47 * 3_600_000, "47h"],
    [48 * 3_600_000, "2d"],
    [10 * 24 * 3_600_000, "10d"],
  ])("%d ms reads %j", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
