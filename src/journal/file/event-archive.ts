// The file journal's events (core/events.ts) once their write-ahead log is folded away. A
// transaction logs its events in the log with its changes; a compaction first appends the log's
// events here, then replaces the snapshot and unlinks the log. Each line is an event with the rev
// of the transaction that made it and its place among that transaction's events, which together are
// its cursor ("rev.n"). A compaction that died after appending leaves events that its log still
// holds: the next one appends only revs past the archive's last, and readers take from the archive
// only revs the snapshot folded in. Two files are kept: past ROTATE_BYTES the current one becomes
// the older one, and the older one before it goes.
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import type { NewEvent, TaskEvent } from "../../core/events.ts";
import { isNewEvent } from "../../core/events.ts";
import { BadCursorError, journalIoError } from "../../errors.ts";
import { FILE_MODE, writeAll } from "./durable-file.ts";
import type { LoggedEvents } from "./write-ahead-log.ts";

export const EVENTS_FILE = "events.jsonl";
export const OLDER_EVENTS_FILE = "events.1.jsonl";
/** Past this size, at a compaction, the current file becomes the older one: about 16 MB of events are kept. */
export const ROTATE_BYTES = 8 * 1024 * 1024;

/** An event's place: the rev of its transaction, and its index among that transaction's events. */
export interface EventPlace {
  rev: number;
  n: number;
}

const CURSOR = /^([1-9]\d{0,15})\.(0|[1-9]\d{0,5})$/;

/** The place `cursor` names; BadCursorError when it is not one this journal makes. */
export function parseCursor(cursor: string, journal: string): EventPlace {
  const match = CURSOR.exec(cursor);
  if (!match) throw new BadCursorError(cursor, journal);
  return { rev: Number(match[1]), n: Number(match[2]) };
}

export const isAfter = (a: EventPlace, b: EventPlace): boolean => a.rev > b.rev || (a.rev === b.rev && a.n > b.n);

/** The events of `logged` after `since`, as the feed hands them out. */
export function loggedAfter(logged: readonly LoggedEvents[], since: EventPlace | null): TaskEvent[] {
  const out: TaskEvent[] = [];
  for (const { rev, events } of logged) {
    if (since !== null && rev < since.rev) continue;
    events.forEach((event, n) => {
      if (since === null || isAfter({ rev, n }, since)) out.push({ ...event, cursor: `${rev}.${n}` });
    });
  }
  return out;
}

interface ArchivedLine extends NewEvent {
  rev: number;
  n: number;
}

/** An archive file's text up to its last newline: a torn last line (a compaction that died mid-append) is not part of it. */
function wholeLines(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw journalIoError(path, error);
  }
  return text.slice(0, text.lastIndexOf("\n") + 1);
}

function parsedLines(text: string): ArchivedLine[] {
  const lines: ArchivedLine[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const parsed = JSON.parse(line) as ArchivedLine;
      // A damaged line costs its event, never the feed.
      if (Number.isSafeInteger(parsed.rev) && Number.isSafeInteger(parsed.n) && isNewEvent(parsed)) lines.push(parsed);
    } catch {}
  }
  return lines;
}

const archivedLines = (path: string): ArchivedLine[] => parsedLines(wholeLines(path));

/**
 * The archived events after `since` (null: all kept) up to rev `upTo` (what the snapshot folded
 * in), oldest first, at most `limit` of them. The current file is read before the older one: a rotation in between then
 * shows some events twice, dropped here, rather than none.
 */
export function archivedAfter(dir: string, since: EventPlace | null, upTo: number, limit: number): TaskEvent[] {
  const current = archivedLines(join(dir, EVENTS_FILE));
  const older = archivedLines(join(dir, OLDER_EVENTS_FILE));
  const out: TaskEvent[] = [];
  let last: EventPlace | null = since;
  for (const { rev, n, ...event } of [...older, ...current]) {
    const place = { rev, n };
    if (rev > upTo || (last !== null && !isAfter(place, last))) continue;
    out.push({ ...event, cursor: `${rev}.${n}` });
    if (out.length === limit) break;
    last = place;
  }
  return out;
}

/** The last complete line of `path` and the length up to its end (a torn line after it is not counted), reading only the file's tail. */
function lastLine(path: string): { line: string; wholeBytes: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { line: "", wholeBytes: 0 };
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    // A compaction reads back from the end only as far as the last line needs, not the whole archive.
    for (let window = 64 * 1024; ; window *= 2) {
      const length = Math.min(size, window);
      const tail = Buffer.alloc(length);
      readSync(fd, tail, 0, length, size - length);
      const end = tail.lastIndexOf(10);
      if (end === -1 && length < size) continue;
      if (end === -1) return { line: "", wholeBytes: 0 };
      // (A newline at the window's first byte: the line before it starts further back.)
      const start = end === 0 ? 0 : tail.lastIndexOf(10, end - 1) + 1;
      if (start === 0 && length < size) continue;
      return { line: tail.subarray(start, end).toString("utf8"), wholeBytes: size - length + end + 1 };
    }
  } finally {
    closeSync(fd);
  }
}

/** Appends the events of `logged` with a rev past the archive's last, durably, rotating the archive first when it is full. */
export function archiveEvents(dir: string, logged: readonly LoggedEvents[]): void {
  if (logged.length === 0) return;
  const path = join(dir, EVENTS_FILE);
  try {
    if (existsSync(path) && statSync(path).size > ROTATE_BYTES) renameSync(path, join(dir, OLDER_EVENTS_FILE));
    const last = lastLine(path);
    const lastRev = parsedLines(last.line).at(-1)?.rev ?? 0;
    const lines = logged.filter(({ rev }) => rev > lastRev).flatMap(({ rev, events }) => events.map((event, n) => `${JSON.stringify({ rev, n, ...event })}\n`));
    if (lines.length === 0) return;
    const fd = openSync(path, "a+", FILE_MODE);
    try {
      // A torn last line is cut off first.
      if (last.wholeBytes < fstatSync(fd).size) ftruncateSync(fd, last.wholeBytes);
      writeAll(fd, lines.join(""));
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw journalIoError(path, error);
  }
}
