// History compaction of the file journal: the history (final tasks, append-only) rewritten as a
// new generation holding only what stays, named by the journal in the same commit; the replaced
// generations are deleted after it. Behind `remove --finished` and the retention setting.
import { readdirSync, unlinkSync } from "node:fs";
import { basename, join } from "node:path";
import type { TaskRecord } from "../../core/task.ts";
import { compareIds } from "../../core/transitions.ts";
import { isTombstone, linesBackwards, parseHistoryLine } from "./archive.ts";
import { indexAppended, indexPathOf } from "./archive-index.ts";
import { appendLines, fsyncDir } from "./durable-file.ts";
import type { JournalDoc } from "./schema.ts";

/**
 * Rewrites the history as a new generation file holding only the newest entry of each final task
 * that stays: superseded lines, tombstones and the tasks `drop` picks are left out. The journal
 * then names the new file; the old one is deleted after the commit. Null when nothing would change.
 */
export function compactHistory(
  home: string,
  doc: JournalDoc,
  drop: (task: TaskRecord) => boolean,
): { history: JournalDoc["history"]; removed: string[] } | null {
  const path = join(home, doc.history.file);
  const seen = new Set(doc.tasks.map((t) => t.id));
  const keep: string[] = [];
  const kept: string[] = [];
  const removed: string[] = [];
  let lines = 0;
  for (const line of linesBackwards(path, doc.history.bytes)) {
    lines += 1;
    const entry = parseHistoryLine(path, line);
    if (seen.has(entry.id)) continue;
    seen.add(entry.id);
    if (isTombstone(entry)) continue;
    if (drop(entry)) removed.push(entry.id);
    else {
      keep.push(`${line.toString("utf8")}\n`);
      kept.push(entry.id);
    }
  }
  if (keep.length === lines) return null;
  const generation = Number(/^history\.(\d+)\.jsonl$/.exec(doc.history.file)?.[1] ?? 1) + 1;
  const file = `history.${generation}.jsonl`;
  keep.reverse();
  const bytes = appendLines(join(home, file), 0, keep, true);
  indexAppended(
    join(home, file),
    0,
    kept.reverse(),
    keep.map((line) => Buffer.byteLength(line)),
    true,
  );
  fsyncDir(home);
  return { history: { file, bytes }, removed: removed.sort(compareIds) };
}

/** History files (and their indexes) the journal no longer names: replaced generations, or one a crashed compaction left. */
export function removeOldGenerations(home: string, current: string): void {
  const currentIndex = basename(indexPathOf(join(home, current)));
  for (const name of readdirSync(home)) {
    if (!/^history(\.\d+)?\.(jsonl|idx)$/.test(name) || name === current || name === currentIndex) continue;
    try {
      unlinkSync(join(home, name));
    } catch {
      // removed by another process
    }
  }
}
