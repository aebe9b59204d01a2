// printJson writes an array a record at a time (a huge `list --json` is more than V8's longest
// string): the text must be exactly what one JSON.stringify would have printed.
import { afterEach, describe, expect, it, vi } from "vitest";
import { printJson } from "../../src/cli/output/json.ts";

function printed(value: unknown): string {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  printJson(value);
  vi.restoreAllMocks();
  return chunks.join("");
}

afterEach(() => vi.restoreAllMocks());

describe("printJson", () => {
  it("prints arrays, objects and empty values as JSON.stringify with an indent of 2 would", () => {
    const record = { id: "1", nested: { list: [1, { a: "line\nbreak" }], empty: [] }, text: "tab\tand \u009b" };
    for (const value of [[], {}, [record], [record, { ...record, id: "2" }, null, "s", 3], record, "plain"]) {
      const text = printed(value);
      expect(JSON.parse(text)).toEqual(value);
      expect(text).toBe(`${JSON.stringify(value, null, 2).replaceAll("\u009b", "\\u009b")}\n`);
    }
  });

  it("writes a long array in pieces, none of them the whole", () => {
    const records = Array.from({ length: 5_000 }, (_, i) => ({ id: String(i), pad: "x".repeat(500) }));
    const chunks: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      chunks.push(String(chunk));
      return true;
    });
    printJson(records);
    vi.restoreAllMocks();
    expect(chunks.length).toBeGreaterThan(1);
    expect(JSON.parse(chunks.join(""))).toEqual(records);
  });
});
