// What the journal can prove about itself: the CRC-32 of each log transaction and of journal.json,
// revs that follow one another, and the commit mark. Old files (no crc, no mark) still load.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 as zlibCrc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JournalCorruptError } from "../../src/errors.ts";
import { crc32 } from "../../src/journal/file/checksum.ts";
import { checkMark, MARK_BYTES, markPath, readMark, writeMark } from "../../src/journal/file/commit-mark.ts";
import { DurableJsonFile, parseByLines } from "../../src/journal/file/durable-file.ts";
import { appendTransaction, createLog, readLogFrom, replay } from "../../src/journal/file/write-ahead-log.ts";
import { emptyDoc } from "../../src/journal/file/schema.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bgtask-checks-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("crc32", () => {
  it("agrees with zlib's on short and long inputs, strings and continuations", () => {
    for (const length of [0, 1, 7, 1000, 70_000, 300_000]) {
      const bytes = Buffer.alloc(length, 0);
      for (let i = 0; i < length; i++) bytes[i] = (i * 2654435761) >>> 24;
      expect(crc32(bytes), `${length} bytes`).toBe(zlibCrc32(bytes));
      expect(crc32(bytes.subarray(length >> 1), crc32(bytes.subarray(0, length >> 1)))).toBe(zlibCrc32(bytes));
    }
    expect(crc32("héllo")).toBe(zlibCrc32(Buffer.from("héllo", "utf8")));
  });
});

describe("log transactions", () => {
  const meta = (nextId: number) => ({ meta: { nextId, workers: [], history: { file: "history.jsonl", bytes: 0 } } });

  it("carry the crc of their entry lines; replay checks it and the revs", () => {
    const log = join(dir, "journal.1.log");
    createLog(log);
    const end = appendTransaction(log, 0, [meta(2)], 1, false);
    appendTransaction(log, end, [meta(3)], 2, false);
    const text = readFileSync(log, "utf8");
    const [entry, commit] = text.split("\n");
    expect(JSON.parse(commit!)).toEqual({ commit: 1, crc: zlibCrc32(Buffer.from(`${entry}\n`)) });
    const doc = emptyDoc();
    expect(replay(log, doc, readLogFrom(log, 0))).toBe(Buffer.byteLength(text));
    expect(doc).toMatchObject({ rev: 2, nextId: 3 });

    writeFileSync(log, text.replace('"nextId":2', '"nextId":7'));
    expect(() => replay(log, emptyDoc(), readLogFrom(log, 0))).toThrow(/does not match its checksum/);
    writeFileSync(log, text.replace('{"commit":2,', '{"commit":5,'));
    expect(() => replay(log, emptyDoc(), readLogFrom(log, 0))).toThrow(/says rev 5 where rev 2 comes next/);
  });

  it("without crc (written before checksums) are taken as they are", () => {
    const log = join(dir, "journal.1.log");
    writeFileSync(log, `${JSON.stringify(meta(4))}\n{"commit":1}\n`);
    const doc = emptyDoc();
    replay(log, doc, readLogFrom(log, 0));
    expect(doc).toMatchObject({ rev: 1, nextId: 4 });
  });
});

describe("journal.json", () => {
  it("ends with the crc of every byte before its trailer; a changed byte is corruption; the old trailer still reads", async () => {
    const path = join(dir, "journal.json");
    const file = new DurableJsonFile(path);
    await file.read();
    await file.write({ ...emptyDoc(), nextId: 12 });
    const bytes = readFileSync(path);
    const trailer = bytes.lastIndexOf("\n", bytes.length - 2) + 1;
    expect(bytes.subarray(trailer).toString()).toBe(`],"crc":${zlibCrc32(bytes.subarray(0, trailer))}}\n`);
    expect(parseByLines(bytes)?.crc).toBe("ok");

    writeFileSync(path, bytes.toString().replace('"nextId":12', '"nextId":13'));
    await expect(new DurableJsonFile(path).read()).rejects.toThrow(/do not match its checksum/);
    writeFileSync(path, bytes.toString().replace(/\],"crc":\d+\}\n$/, "]}\n"));
    await expect(new DurableJsonFile(path).read()).resolves.toMatchObject({ nextId: 12 });
    // One line (the layout of an old empty journal) parses whole.
    writeFileSync(path, `${JSON.stringify(emptyDoc())}\n`);
    await expect(new DurableJsonFile(path).read()).resolves.toMatchObject({ nextId: 1 });
  });
});

describe("the commit mark", () => {
  it("is 128 bytes of JSON with its own crc, rewritten in place, absent on old journals", () => {
    expect(readMark(dir)).toBeNull();
    writeMark(dir, { rev: 1234, log: "journal.3.log", bytes: 99, nextId: 77 });
    writeMark(dir, { rev: 12, log: "journal.3.log", bytes: 9, nextId: 7 });
    const bytes = readFileSync(markPath(dir));
    expect(bytes.length).toBe(MARK_BYTES);
    expect(readMark(dir)).toEqual({ rev: 12, log: "journal.3.log", bytes: 9, nextId: 7 });
    expect(() => checkMark(readMark(dir), "the-log", { rev: 11 })).toThrow(/commits up to rev 12 were acknowledged but the log ends at rev 11/);
    expect(() => checkMark(readMark(dir), "the-log", { rev: 12 })).not.toThrow();
    writeFileSync(markPath(dir), bytes.toString().replace('"rev":12', '"rev":19'));
    expect(() => readMark(dir)).toThrow(JournalCorruptError);
    writeFileSync(markPath(dir), Buffer.alloc(MARK_BYTES));
    expect(readMark(dir)).toBeNull();
  });
});
