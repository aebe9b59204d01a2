// The archive's final tasks as the overview counts them: executor, status and finish time of each
// task's newest line. Kept per store and brought up to date from the lines appended since the last
// look, so a dashboard that counts at every change reads each history line once, not at each count.
import { join } from "node:path";
import { endedTask, type EndedTask } from "../../core/stats.ts";
import type { TaskRecord } from "../../core/task.ts";
import { linesBackwards, parseHistoryLine } from "./archive.ts";
import type { JournalDoc } from "./schema.ts";

/** What the overview and the activity charts count of a final task (core/stats.ts's EndedTask). */
export type Tallied = EndedTask;

// A history line is historyLine's JSON of a record in createTask's key order: id, executor and
// status lead it, and the record's own finishedAt sits between its startedAt and its result (a
// try's finishedAt is followed by its status). Read so, a line costs a match, not a parse of its
// context, result and tries; a line of any other shape is parsed and checked in full. (A context
// holding those keys in that very order could misplace its own task in the throughput minutes.)
const HEAD = /^\{"id":"([1-9][0-9]*)",(?:"removed":"|"executor":"([A-Za-z0-9_/-]+)","status":"(succeeded|failed|cancelled)",)/;
const FINISHED = /"createdAt":"([^"]+)","startedAt":(?:null|"([^"]*)"),"finishedAt":"([^"]+)","result":/;
const TERMINATOR = /"removed":"[^"]*"\}$/;

type Quick = { id: string; removed?: true; tallied?: Tallied };

function quickRead(line: Buffer): Quick | null {
  const text = line.toString("latin1");
  const head = HEAD.exec(text);
  if (!head) return null;
  if (head[2] === undefined) return TERMINATOR.test(text) ? { id: head[1]!, removed: true } : null;
  const times = FINISHED.exec(text);
  if (!times) return null;
  const [createdAt, startedAt, finishedAt] = [Date.parse(times[1]!), times[2] === undefined ? null : Date.parse(times[2]), Date.parse(times[3]!)];
  if (Number.isNaN(createdAt) || Number.isNaN(finishedAt) || Number.isNaN(startedAt)) return null;
  return { id: head[1]!, tallied: { executor: head[2]!, status: head[3] as Tallied["status"], createdAt, startedAt, finishedAt } };
}

export class HistoryTally {
  private readonly home: string;
  private file = "";
  private bytes = 0;
  private readonly entries = new Map<string, Tallied>();

  constructor(home: string) {
    this.home = home;
  }

  /** Every final task's newest entry (removed ones left out), as of `history`; entries of tasks active again are still in it. */
  read(history: JournalDoc["history"]): ReadonlyMap<string, Tallied> {
    // A compaction writes a new generation file: what was counted from the old one may be gone.
    if (history.file !== this.file || history.bytes < this.bytes) {
      this.entries.clear();
      this.file = history.file;
      this.bytes = 0;
    }
    const path = join(this.home, history.file);
    const seen = new Set<string>();
    // Newest first: the first line met for an id is its newest, over what was counted before.
    for (const line of linesBackwards(path, history.bytes, this.bytes)) {
      const quick = quickRead(line);
      const entry = quick ?? parseHistoryLine(path, line);
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      if ("removed" in entry) this.entries.delete(entry.id);
      else this.entries.set(entry.id, quick?.tallied ?? endedTask(entry as TaskRecord));
    }
    this.bytes = history.bytes;
    return this.entries;
  }
}
