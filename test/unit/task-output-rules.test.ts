// core/task-output.ts: log text cut into pieces of whole lines, the attachment size sentence.
import { describe, expect, it } from "vitest";
import { attachmentTooLarge, logPieces, MAX_ATTACHMENT_BYTES } from "../../src/core/task-output.ts";

describe("logPieces", () => {
  it.each([
    ["", 10, []],
    ["a\n", 10, ["a\n"]],
    ["a\nb\nc\n", 3, ["a\n", "b\n", "c\n"]],
    ["a\nb\nc\n", 600, ["a\nb\nc\n"]],
    [`${"x".repeat(50)}\nb\n`, 9, [`${"x".repeat(50)}\n`, "b\n"]],
  ])("cuts %j at %i bytes into %j", (text, max, pieces) => {
    expect(logPieces(text, max)).toEqual(pieces);
  });

  it("keeps every byte, in order, each piece whole lines within the size (but for a longer line)", () => {
    const text = Array.from({ length: 2000 }, (_, i) => `${i} ünïcode ${"y".repeat(i % 90)}\n`).join("");
    const pieces = logPieces(text, 4096);
    expect(pieces.join("")).toBe(text);
    for (const piece of pieces) {
      expect(piece.endsWith("\n")).toBe(true);
      expect(Buffer.byteLength(piece)).toBeLessThanOrEqual(4096);
    }
  });
});

it("attachmentTooLarge names the attachment, what was seen and the limit in MiB", () => {
  expect(attachmentTooLarge("dump.sql", MAX_ATTACHMENT_BYTES + 5)).toBe(
    `attachment "dump.sql" is refused: it has more than 67108864 bytes (67108869 seen), over the limit of 64 MiB an attachment may have on this journal`,
  );
});
