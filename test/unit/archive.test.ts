// journal/file/archive.ts: the append-only history of final tasks. Lines are read newest first in
// chunks; only the committed length counts; a torn tail from a crashed writer is invisible and cut.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JournalCorruptError } from "../../src/errors.ts";
import { findInHistory, historyLine, isTombstone, linesBackwards, parseHistoryLine } from "../../src/journal/file/archive.ts";
import { appendLines } from "../../src/journal/file/durable-file.ts";
import { createTask, type TaskRecord } from "../../src/core/task.ts";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bgtask-history-"));
  path = join(dir, "history.jsonl");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A final task record (history lines are checked against the record format). */
const entry = (id: string, pad = 0): TaskRecord => ({
  ...createTask(id, { executor: "noop", context: {}, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null }, new Date(0), 1),
  status: "succeeded",
  completed: true,
  message: "x".repeat(pad),
});
const ids = (lines: Iterable<Buffer>) => [...lines].map((line) => parseHistoryLine(path, line).id);

describe("appendLines", () => {
  it("appends lines with the id first, returns the new committed length, owner-only", () => {
    const first = appendLines(path, 0, [historyLine(entry("1")), historyLine(entry("2"))], true);
    expect(first).toBe(statSync(path).size);
    expect(readFileSync(path, "utf8").split("\n")[0]).toMatch(/^\{"id":"1",/);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const second = appendLines(path, first, [historyLine(entry("3"))], true);
    expect(ids(linesBackwards(path, second))).toEqual(["3", "2", "1"]);
  });

  it("cuts an uncommitted tail (a writer died before committing) before appending", () => {
    const committed = appendLines(path, 0, [historyLine(entry("1"))], true);
    appendFileSync(path, '{"id":"2","status":"succ'); // torn, never committed
    expect(ids(linesBackwards(path, committed))).toEqual(["1"]);
    const next = appendLines(path, committed, [historyLine(entry("3"))], true);
    expect(readFileSync(path, "utf8")).toBe(historyLine(entry("1")) + historyLine(entry("3")));
    expect(ids(linesBackwards(path, next))).toEqual(["3", "1"]);
  });

  it("refuses a file shorter than what the journal committed", () => {
    writeFileSync(path, "short\n");
    expect(() => appendLines(path, 100, [historyLine(entry("1"))], true)).toThrow(JournalCorruptError);
    expect(() => appendLines(path, 100, [historyLine(entry("1"))], true)).toThrow(/6 bytes long but the journal committed 100/);
  });
});

describe("linesBackwards", () => {
  it("yields every committed line newest first across 256 KiB chunk boundaries", () => {
    // Line lengths that do not divide the chunk size, so lines straddle every boundary.
    const entries = Array.from({ length: 700 }, (_, i) => entry(String(i + 1), (i * 37) % 3001));
    const committed = appendLines(path, 0, entries.map(historyLine), true);
    expect(committed).toBeGreaterThan(3 * 256 * 1024);
    const lines = [...linesBackwards(path, committed)];
    expect(lines.map((l) => parseHistoryLine(path, l).id)).toEqual(entries.map((e) => e.id).reverse());
    expect(lines.map((l) => (parseHistoryLine(path, l) as unknown as { message: string }).message.length)).toEqual(
      entries.map((e) => e.message!.length).reverse(),
    );
  });

  it("a single line longer than a chunk comes back whole", () => {
    const committed = appendLines(path, 0, [historyLine(entry("1")), historyLine(entry("2", 600_000)), historyLine(entry("3"))], true);
    const lines = [...linesBackwards(path, committed)];
    expect(ids(lines)).toEqual(["3", "2", "1"]);
    expect(lines[1]!.length).toBeGreaterThan(600_000);
  });

  it("ignores bytes past the committed length and yields nothing for an empty history", () => {
    const committed = appendLines(path, 0, [historyLine(entry("1")), historyLine(entry("2"))], true);
    appendFileSync(path, historyLine(entry("3")));
    expect(ids(linesBackwards(path, committed))).toEqual(["2", "1"]);
    expect([...linesBackwards(path, 0)]).toEqual([]);
    expect([...linesBackwards(join(dir, "absent.jsonl"), 0)]).toEqual([]);
  });

  it("reports a file cut shorter than the committed length", () => {
    const committed = appendLines(path, 0, [historyLine(entry("1")), historyLine(entry("2"))], true);
    writeFileSync(path, readFileSync(path).subarray(0, 5));
    expect(() => [...linesBackwards(path, committed)]).toThrow(JournalCorruptError);
  });

  it("stops reading when the caller stops: a generator, not a whole-file read", () => {
    const entries = Array.from({ length: 300 }, (_, i) => entry(String(i + 1), 2000));
    const committed = appendLines(path, 0, entries.map(historyLine), true);
    const iterator = linesBackwards(path, committed);
    expect(parseHistoryLine(path, iterator.next().value as Buffer).id).toBe("300");
    iterator.return(undefined);
  });
});

describe("findInHistory and parseHistoryLine", () => {
  it("finds the newest entry of an id by its prefix, never confusing 1 with 10", () => {
    const committed = appendLines(
      path,
      0,
      [
        historyLine(entry("1")),
        historyLine(entry("10")),
        historyLine({ ...entry("1"), message: "newer" } as TaskRecord),
        historyLine({ id: "10", removed: "2026-01-01T00:00:00.000Z" }),
      ],
      true,
    );
    expect(findInHistory(path, committed, "1")).toMatchObject({ id: "1", message: "newer" });
    const ten = findInHistory(path, committed, "10")!;
    expect(isTombstone(ten)).toBe(true);
    expect(findInHistory(path, committed, "100")).toBeNull();
  });

  it("reports a line that does not parse or has no id", () => {
    expect(() => parseHistoryLine(path, Buffer.from("{not json"))).toThrow(JournalCorruptError);
    expect(() => parseHistoryLine(path, Buffer.from('{"status":"failed"}'))).toThrow(/a task line is malformed/);
    expect(() => parseHistoryLine(path, Buffer.from(historyLine({ ...entry("1"), status: "zzzzzzzzz" } as unknown as TaskRecord).trim()))).toThrow(
      /a task line is malformed/,
    );
    expect(() => parseHistoryLine(path, Buffer.from(historyLine({ ...entry("1"), status: "running" }).trim()))).toThrow(/not final/);
    expect(() => parseHistoryLine(path, Buffer.from('{"id":"1","removed":7}'))).toThrow(/a removal line is malformed/);
    expect(() => parseHistoryLine(path, Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(/not valid UTF-8/);
    expect(() => parseHistoryLine(path, Buffer.from("null"))).toThrow(JournalCorruptError);
  });
});
