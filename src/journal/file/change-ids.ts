// Which tasks changed, for the file journal's change notification: every commit appends to the
// write-ahead log the tasks it put or deleted and, in its meta entry, the next id (new tasks the
// cold queue took, which the log does not name). A cursor on the log reads only what was
// committed since its last look. A compaction (a new journal.json and log, or a rewritten
// history) leaves it unable to tell: then it says null, and starts again from there.
import { join } from "node:path";
import { readHead } from "./durable-file.ts";
import { logSize, readLogFrom, transactions } from "./write-ahead-log.ts";

interface Position {
  log: string;
  /** Committed length of `log` already read. */
  bytes: number;
  nextId: number;
  historyFile: string | null;
}

export class ChangeCursor {
  private readonly dir: string;
  private position: Position | null = null;

  constructor(dir: string) {
    this.dir = dir;
    this.position = this.start();
  }

  /** Where the journal is now, with nothing read past it; null when it cannot be told (no journal yet, one being replaced). */
  private start(): Position | null {
    try {
      const head = readHead(join(this.dir, "journal.json"));
      const log = head ? /"log":"(journal\.\d+\.log)"/.exec(head)?.[1] : undefined;
      const nextId = head ? /"nextId":(\d+)/.exec(head)?.[1] : undefined;
      if (log === undefined || nextId === undefined) return null;
      const position: Position = { log, bytes: 0, nextId: Number(nextId), historyFile: null };
      this.read(position);
      return position;
    } catch {
      return null;
    }
  }

  /** The ids of the tasks changed since the last call, or null when that cannot be told. */
  changed(): string[] | null {
    const position = this.position;
    let ids: Set<string> | null = null;
    try {
      if (position !== null && logSize(join(this.dir, position.log)) >= position.bytes) ids = this.read(position);
    } catch {
      ids = null;
    }
    if (ids === null) this.position = this.start();
    return ids === null ? null : [...ids];
  }

  /** Reads the transactions committed past `position`, moving it on; null when the log or the history was replaced. */
  private read(position: Position): Set<string> | null {
    const path = join(this.dir, position.log);
    const head = readHead(join(this.dir, "journal.json"));
    if (head === null || !head.includes(`"log":"${position.log}"`)) return null;
    const ids = new Set<string>();
    let replaced = false;
    const from = position.bytes;
    for (const tx of transactions(path, readLogFrom(path, from), null)) {
      for (const entry of tx.entries) {
        if ("put" in entry) ids.add(entry.put.id);
        else if ("del" in entry) ids.add(entry.del);
        else if ("meta" in entry) {
          for (let id = position.nextId; id < entry.meta.nextId; id++) ids.add(String(id));
          position.nextId = entry.meta.nextId;
          if (position.historyFile !== null && entry.meta.history.file !== position.historyFile) replaced = true;
          position.historyFile = entry.meta.history.file;
        }
      }
      position.bytes = from + tx.end;
    }
    return replaced ? null : ids;
  }
}
