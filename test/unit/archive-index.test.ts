// journal/file/archive-index.ts: the id → offset index of the history. Whatever state the index file is
// in (absent, short, garbled, behind, ahead of a writer that died), findIndexed gives the answer
// the scan gives, and the next writer leaves a complete index behind.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTask, type TaskRecord } from "../../src/core/task.ts";
import { JournalCorruptError } from "../../src/errors.ts";
import { findInHistory, historyLine, type HistoryEntry } from "../../src/journal/file/archive.ts";
import { appendLines } from "../../src/journal/file/durable-file.ts";
import { findIndexed, indexAppended, indexPathOf } from "../../src/journal/file/archive-index.ts";

let dir: string;
let path: string;
let index: string;
/** Committed length of the history, as journal.json would record it. */
let committed: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bgtask-history-index-"));
  path = join(dir, "history.jsonl");
  index = indexPathOf(path);
  committed = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A final task record (history lines are checked against the record format). */
const final = (id: string, message = `task ${id}`, pad = 0): TaskRecord => ({
  ...createTask(id, { executor: "noop", context: {}, serialKey: null, retry: { kind: "tiers", tiers: [] }, timeoutMs: null, runAt: null }, new Date(0), 1),
  status: "succeeded",
  completed: true,
  message: message + "x".repeat(pad),
});
const tombstone = (id: string): HistoryEntry => ({ id, removed: "2026-01-01T00:00:00.000Z" });

/** One writer's transaction: append the lines, then index them, as JournalFiles.commit does. */
function commit(entries: HistoryEntry[], { index: withIndex = true } = {}): number {
  const lines = entries.map(historyLine);
  const start = committed;
  const end = appendLines(path, start, lines, false);
  if (withIndex)
    indexAppended(
      path,
      start,
      entries.map((e) => e.id),
      lines.map((l) => Buffer.byteLength(l)),
      false,
    );
  committed = end;
  return end;
}

/** findIndexed must agree with the scan for every id, present, superseded, removed or absent. */
function expectAgreesWithScan(ids: string[], bytes = committed) {
  for (const id of ids) expect(findIndexed(path, bytes, id), `id ${id}`).toEqual(findInHistory(path, bytes, id));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function entryOf(k: number): number {
  return Number(readFileSync(index).readBigUInt64LE(24 + 8 * (k - 1))) - 1;
}

describe("indexAppended", () => {
  it("records the offset of each id's newest line, tombstones included; the header covers the committed length", () => {
    commit(range(1, 50).map((id) => final(id)));
    commit([final("7", "retried"), tombstone("9")]);
    const bytes = readFileSync(path);
    expect(bytes.subarray(entryOf(1)).toString().startsWith('{"id":"1",')).toBe(true);
    expect(bytes.subarray(entryOf(7)).toString()).toMatch(/^\{"id":"7",[^\n]*"message":"retried"/);
    expect(bytes.subarray(entryOf(9)).toString()).toMatch(/^\{"id":"9","removed"/);
    const header = readFileSync(index).subarray(0, 24);
    expect(Number(header.readBigUInt64LE(8))).toBe(committed);
    expect(Number(header.readBigUInt64LE(16))).toBe(50);
    expect(statSync(index).mode & 0o777).toBe(0o600);
  });

  it("answers from the index without scanning: a damaged line the scan would trip on is never read", () => {
    commit(range(1, 30).map((id) => final(id)));
    commit(range(31, 60).map((id) => final(id)));
    // Overwrite line 20 in place with a line claiming id 1 that does not parse: the backward scan
    // for id 1 meets it first, the index goes straight to the real line.
    const bytes = readFileSync(path);
    const at = entryOf(20);
    const end = bytes.indexOf(10, at);
    const fake = Buffer.from(`{"id":"1",${"#".repeat(end - at - 10)}`);
    fake.copy(bytes, at);
    writeFileSync(path, bytes);
    expect(() => findInHistory(path, committed, "1")).toThrow(JournalCorruptError);
    expect(findIndexed(path, committed, "1")).toMatchObject({ id: "1", message: "task 1" });
  });

  it("agrees with the scan for superseded, removed, active-only and unknown ids", () => {
    commit(range(1, 20).map((id) => final(id)));
    commit([final("3", "second try"), tombstone("4"), tombstone("25")]);
    commit([final("3", "third try"), final("22")]);
    expectAgreesWithScan([...range(1, 30), "0", "01", "abc", "99999999999999999"]);
    expect(findIndexed(path, committed, "3")).toMatchObject({ message: "third try" });
    expect(findIndexed(path, committed, "4")).toMatchObject({ removed: expect.any(String) });
    // An empty history (its file may not exist yet) holds nothing, whatever index lies around.
    expect(findIndexed(join(dir, "absent.jsonl"), 0, "1")).toBeNull();
    expect(findIndexed(path, 0, "1")).toBeNull();
  });

  it("lines longer than the read chunk are indexed and read back whole", () => {
    commit([final("1"), final("2", "long", 1_500_000), final("3")]);
    rmSync(index);
    commit([final("4")]); // rebuilds over the long line
    expectAgreesWithScan(range(1, 4));
    expect((findIndexed(path, committed, "2") as { message: string }).message.length).toBe(1_500_004);
  });
});

describe("an index in any state gives the scan's answers, and the next writer repairs it", () => {
  const setup = () => {
    commit(range(1, 40).map((id) => final(id)));
    commit([final("5", "retried"), tombstone("6")]);
    commit(range(41, 60).map((id) => final(id)));
  };
  const all = () => range(1, 65);
  const repairedBy = () => {
    commit([final("61"), final("5", "third")]);
    expectAgreesWithScan(all());
    const header = readFileSync(index).subarray(0, 24);
    expect(Number(header.readBigUInt64LE(8))).toBe(committed);
    for (const k of [1, 5, 6, 40, 61]) expect(entryOf(k)).toBeGreaterThanOrEqual(0);
  };

  it("missing", () => {
    setup();
    rmSync(index);
    expectAgreesWithScan(all());
    repairedBy();
  });

  it("truncated in the middle of its entries, or inside its header", () => {
    setup();
    truncateSync(index, 24 + 8 * 20 + 3);
    expectAgreesWithScan(all());
    repairedBy();
    truncateSync(index, 10);
    expectAgreesWithScan(all());
    repairedBy();
  });

  it("garbled entries and a garbled header", () => {
    setup();
    const bytes = readFileSync(index);
    for (let i = 24; i < bytes.length; i += 3) bytes[i] = (bytes[i]! * 31 + 7) & 0xff;
    writeFileSync(index, bytes);
    expectAgreesWithScan(all());
    writeFileSync(index, Buffer.alloc(bytes.length, 0xff));
    expectAgreesWithScan(all());
    writeFileSync(index, Buffer.alloc(bytes.length, 0));
    expectAgreesWithScan(all());
    repairedBy();
  });

  it("behind the history (a writer's index update was lost): the uncovered tail is scanned, then indexed", () => {
    commit(range(1, 30).map((id) => final(id)));
    const old = readFileSync(index);
    commit([final("3", "newer"), ...range(31, 40).map((id) => final(id))]);
    writeFileSync(index, old);
    expect(findIndexed(path, committed, "3")).toMatchObject({ message: "newer" });
    expectAgreesWithScan(range(1, 45));
    commit([final("41")]);
    expect(Number(readFileSync(index).readBigUInt64LE(8))).toBe(committed);
    expect(readFileSync(path).subarray(entryOf(3)).toString()).toMatch(/^\{"id":"3",[^\n]*"message":"newer"/);
    expectAgreesWithScan(range(1, 45));
  });

  it("ahead of the history (a writer died after indexing, before its commit): its lines are ignored, then cut", () => {
    commit(range(1, 30).map((id) => final(id)));
    const before = committed;
    commit([final("3", "uncommitted"), tombstone("4"), final("31")]);
    committed = before; // the journal never committed that transaction
    expect(findIndexed(path, committed, "3")).toMatchObject({ message: "task 3" });
    expect(findIndexed(path, committed, "4")).toMatchObject({ message: "task 4" });
    expect(findIndexed(path, committed, "31")).toBeNull();
    expectAgreesWithScan(range(1, 35));
    // The next writer cuts the dead tail and appends other lines at the same offsets.
    commit([final("32"), final("4", "other")]);
    expectAgreesWithScan(range(1, 35));
    expect(findIndexed(path, committed, "3")).toMatchObject({ message: "task 3" });
    expect(findIndexed(path, committed, "4")).toMatchObject({ message: "other" });
  });

  it("a history written without the index (an older bgtask) is indexed by the first writer", () => {
    commit(
      range(1, 25).map((id) => final(id)),
      { index: false },
    );
    expect(existsSync(index)).toBe(false);
    expectAgreesWithScan(range(1, 30));
    commit([final("26")]);
    expect(Number(readFileSync(index).readBigUInt64LE(8))).toBe(committed);
    for (const k of [1, 13, 25, 26]) expect(readFileSync(path).subarray(entryOf(k)).toString()).toMatch(new RegExp(`^\\{"id":"${k}",`));
    expectAgreesWithScan(range(1, 30));
  });

  it("an index for other content (a crashed compaction's leftover) is rebuilt, never trusted", () => {
    commit(range(1, 10).map((id) => final(id, "old generation", 50)));
    committed = 0;
    rmSync(path);
    commit(range(1, 5).map((id) => final(id, "new")));
    expectAgreesWithScan(range(1, 12));
    expect(findIndexed(path, committed, "7")).toBeNull();
  });
});
