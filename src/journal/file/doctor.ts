// `bgtask doctor`'s check: what is wrong with each journal file in a home, found with the checks
// the commands make (salvage.ts) plus the ones only worth a full read (every history line, every
// index entry). Reads only, takes no lock, and works on a journal every other command refuses.
import { existsSync, readdirSync } from "node:fs";
import { basename } from "node:path";
import { indexPathOf, readIndexFile } from "./archive-index.ts";
import { salvage, type HistoryLine, type Salvage } from "./salvage.ts";
import type { DoctorReport, FileReport } from "../report.ts";

export type { DoctorReport, FileReport };

/** Every file that belongs to the journal (what a repair copies before it writes). */
export const JOURNAL_FILE = /^(journal\.json|journal\.\d+\.log|journal\.mark|history[\w.-]*\.(jsonl|idx)|queue\.\d+\.jsonl|\.journal\.json\.(.*\.)?tmp)$/;
const LEFTOVER = /^(journal\.\d+\.log|history[\w.-]*\.(jsonl|idx)|queue\.\d+\.jsonl|\.journal\.json\.(.*\.)?tmp|damaged-.*)$/;

function report(role: FileReport["role"], path: string, exists: boolean, problem: string | null, notes: string[]): FileReport {
  return { role, file: basename(path), path, status: problem ? "damaged" : exists ? "ok" : "absent", problem, notes };
}

/** Checks the index against the history lines it covers: a wrong entry is damage (a cache, but one that answers). */
export function checkIndex(
  historyPath: string,
  lines: readonly HistoryLine[],
  committedBytes: number,
): { problem: string | null; notes: string[]; indexed: Set<string> } {
  const notes: string[] = [];
  const indexed = new Set<string>();
  const index = readIndexFile(historyPath);
  if (index === "absent") {
    if (committedBytes > 0) notes.push("absent: the history is scanned instead, and the next writer builds it");
    return { problem: null, notes, indexed };
  }
  if (index === "garbled") return { problem: "its header is not an index header bgtask wrote", notes, indexed };
  index.entries.forEach((value, i) => {
    if (value > 0) indexed.add(String(i + 1));
  });
  if (index.truncated) return { problem: `it stops inside its entries (it indexes ids up to ${index.maxId})`, notes, indexed };
  if (index.covered > committedBytes) {
    notes.push("ahead of the history (a writer that died before its commit): the extra entries are ignored and cut by the next writer");
    return { problem: null, notes, indexed };
  }
  if (index.covered < committedBytes)
    notes.push(`behind: the last ${committedBytes - index.covered} bytes of the history are scanned until the next writer indexes them`);
  const newest = new Map<number, number>();
  for (const line of lines) {
    if (line.offset >= index.covered) break;
    const k = Number(line.entry.id);
    if (Number.isSafeInteger(k)) newest.set(k, line.offset);
  }
  for (let k = 1; k <= index.maxId; k++) {
    const value = index.entries[k - 1]!;
    const expected = newest.get(k);
    if ((expected === undefined && value !== 0) || (expected !== undefined && value !== expected + 1)) {
      return { problem: `its entry for task ${k} does not point at that task's newest history line`, notes, indexed };
    }
  }
  return { problem: null, notes, indexed };
}

/** The files of `home` judged one by one, from a salvage of it. */
export function judge(found: Salvage): DoctorReport {
  const { home, snapshot, log, mark, history, queue } = found;
  const names = existsSync(home) ? readdirSync(home) : [];
  const journalFiles = names.filter((name) => JOURNAL_FILE.test(name) && name !== "journal.json");
  const files: FileReport[] = [];
  let snapshotProblem = snapshot.problem;
  if (!snapshot.exists && journalFiles.length > 0) snapshotProblem = `it is missing, but the home holds ${journalFiles.sort().join(", ")}`;
  files.push(report("snapshot", snapshot.path, snapshot.exists, snapshotProblem, snapshot.notes));
  if (!snapshot.exists && journalFiles.length === 0) {
    return { home, healthy: true, files: [{ ...files[0]!, notes: ["no journal yet: the first command creates it"] }], leftovers: [], newer: false };
  }
  files.push(
    report(
      "log",
      log.path,
      log.exists,
      log.problem,
      log.problem
        ? log.notes
        : [
            ...log.notes,
            `${log.committedBytes} bytes committed; the journal is at rev ${snapshot.doc.rev}, ${snapshot.doc.tasks.length} active tasks, next id ${snapshot.doc.nextId}`,
          ],
    ),
  );
  const markNotes = mark.mark
    ? [`rev ${mark.mark.rev} synced (${mark.mark.log}, ${mark.mark.bytes} bytes)`]
    : mark.exists
      ? []
      : ["absent (a journal from before commit marks): written by the next synced change"];
  files.push(report("mark", mark.path, mark.exists, mark.problem, markNotes));
  files.push(report("history", history.path, history.exists, history.problem, history.notes));
  const index = checkIndex(history.path, history.lines, history.committedBytes);
  const indexPath = indexPathOf(history.path);
  files.push(
    report(
      "index",
      indexPath,
      existsSync(indexPath),
      index.problem,
      index.problem ? [...index.notes, "a cache: commands fall back to the history; --repair rebuilds it"] : index.notes,
    ),
  );
  files.push(report("queue", queue.path, queue.exists, queue.problem, queue.notes));
  const named = new Set([...files.map((f) => f.file), "journal.json"]);
  const leftovers = names.filter((name) => LEFTOVER.test(name) && !named.has(name)).sort();
  return { home, healthy: files.every((f) => f.status !== "damaged"), files, leftovers, newer: snapshot.newer };
}

/** `bgtask doctor`: the journal in `home`, file by file. */
export async function diagnose(home: string): Promise<DoctorReport> {
  return judge(await salvage(home));
}
