// The archive's final tasks as the overview counts them: executor, status and finish time of each
// task's newest line. Kept per store and brought up to date from the lines appended since the last
// look, so a dashboard that counts at every change reads each history line once, not at each count.
import { join } from "node:path";
import { finishedTime, type TaskRecord } from "../core/task.ts";
import { isTombstone, linesBackwards, parseHistoryLine } from "./archive.ts";
import type { JournalDoc } from "./schema.ts";

export interface Tallied {
  executor: string;
  status: TaskRecord["status"];
  finishedAt: number;
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
      const entry = parseHistoryLine(path, line);
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      if (isTombstone(entry)) this.entries.delete(entry.id);
      else this.entries.set(entry.id, { executor: entry.executor, status: entry.status, finishedAt: finishedTime(entry) });
    }
    this.bytes = history.bytes;
    return this.entries;
  }
}
