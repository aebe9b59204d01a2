import { describe, expect, it } from "vitest";
import { formatLogLine, parseLogLine } from "../../src/core/log-line.ts";

describe("log lines", () => {
  it("round-trips time, try, stream and text (pipes and spaces kept)", () => {
    const line = formatLogLine(new Date("2026-03-01T12:00:00.123Z"), 12, "log", "a | b  ");
    expect(line).toBe("2026-03-01T12:00:00.123Z [try 12] log    | a | b  \n");
    expect(parseLogLine(line.slice(0, -1))).toEqual({ at: "2026-03-01T12:00:00.123Z", try: 12, stream: "log", text: "a | b  " });
    expect(parseLogLine(formatLogLine(new Date(0), 1, "stdout", "").slice(0, -1))?.text).toBe("");
  });

  it("returns null for anything else", () => {
    expect(parseLogLine("hello")).toBeNull();
    expect(parseLogLine("2026-03-01 [try x] log | y")).toBeNull();
  });
});
