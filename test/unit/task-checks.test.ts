// What an executor hands bgtask is checked before it is stored: attachment names and attributes.
import { describe, expect, it } from "vitest";
import { attachmentNameProblem } from "../../src/core/task-output.ts";
import { jsonProblem } from "../../src/worker/task-api.ts";

describe("attachment names", () => {
  it.each(["report.csv", "CON", "a b.txt", "日本.txt", ".hidden", "x".repeat(200)])("accepts %j", (name) => {
    expect(attachmentNameProblem(name)).toBeNull();
  });

  it.each([
    ["../x", "path separator"],
    ["/etc/passwd", "path separator"],
    ["a\\b", "path separator"],
    ["..", "names a folder"],
    [".", "names a folder"],
    ["a\u0000b", "control character"],
    ["a\nb", "control character"],
    ["a\u009bb", "control character"],
    ["x".repeat(201), "longer than 200"],
    ["", "non-empty"],
    [".bgtask-1.tmp", "reserved"],
  ])("refuses %j (%s)", (name, why) => {
    expect(attachmentNameProblem(name)).toContain(why);
  });
});

describe("attributes must be plain JSON", () => {
  it("accepts JSON values, dates and undefined properties", () => {
    expect(jsonProblem({ a: 1, b: "x", c: [true, null, { d: 2.5 }], e: new Date(0), f: undefined })).toBeNull();
    expect(jsonProblem(Object.assign(Object.create(null), { a: 1 }))).toBeNull();
  });

  it("names the first value that is not", () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(jsonProblem({ a: { b: 10n } })).toBe("attributes.a.b is a bigint");
    expect(jsonProblem({ f: () => 1 })).toBe("attributes.f is a function");
    expect(jsonProblem({ n: Number.NaN })).toBe("attributes.n is NaN, which JSON cannot hold");
    expect(jsonProblem({ list: [1, new Set()] })).toBe("attributes.list[1] is a Set, which JSON cannot hold");
    expect(jsonProblem({ cycle })).toBe("attributes.cycle.self refers back to itself");
    // The same object twice is not a cycle.
    const shared = { x: 1 };
    expect(jsonProblem({ a: shared, b: shared })).toBeNull();
  });
});
