// The file journal's event archive (src/journal/file/event-archive.ts): a compaction that died after
// appending leaves events its log still holds, and one that died mid-append leaves a torn line; the
// next compaction appends only what is past the archive's last rev, after cutting the torn line.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it, onTestFinished } from "vitest";
import type { NewEvent } from "../../src/core/events.ts";
import { archivedAfter, archiveEvents, EVENTS_FILE } from "../../src/journal/file/event-archive.ts";

const event = (taskId: string): NewEvent => ({ at: "2026-01-01T00:00:00.000Z", kind: "enqueued", taskId, executor: "x", try: 0, status: "queued" });

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "bgtask-archive-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

it("appends each rev once, cuts a torn last line first, and hands events out after a cursor", () => {
  const dir = home();
  archiveEvents(dir, [{ rev: 1, events: [event("1"), event("2")] }]);
  // The same log again (a compaction that died after appending), and more.
  archiveEvents(dir, [
    { rev: 1, events: [event("1"), event("2")] },
    { rev: 2, events: [event("3")] },
  ]);
  appendFileSync(join(dir, EVENTS_FILE), '{"rev":3,"n":0,"at":"2026');
  archiveEvents(dir, [{ rev: 3, events: [event("4")] }]);
  expect(archivedAfter(dir, null, 10, 100).map((e) => [e.cursor, e.taskId])).toEqual([
    ["1.0", "1"],
    ["1.1", "2"],
    ["2.0", "3"],
    ["3.0", "4"],
  ]);
  expect(readFileSync(join(dir, EVENTS_FILE), "utf8").split("\n").filter(Boolean)).toHaveLength(4);
  expect(archivedAfter(dir, { rev: 1, n: 1 }, 10, 100).map((e) => e.cursor)).toEqual(["2.0", "3.0"]);
  // Only what the snapshot folded in: rev 3 is still its log's.
  expect(archivedAfter(dir, null, 2, 100).map((e) => e.cursor)).toEqual(["1.0", "1.1", "2.0"]);
  expect(archivedAfter(dir, null, 10, 2).map((e) => e.cursor)).toEqual(["1.0", "1.1"]);
});
