// Tells when one file changes (written, appended, or replaced by a rename): fs.watch on its folder,
// which sees renames into place, with a stat poll as a safety net for missed events and as the
// whole mechanism where fs.watch is unavailable (a missing folder, no inotify, some network
// filesystems). Only a changed stat (inode, size, mtime) is reported, so callers read the file
// only when it really changed.
import { statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";

export interface FileWatchOptions {
  /** Stat poll while fs.watch works: catches what it misses. */
  safetyPollMs?: number;
  /** Stat poll when fs.watch cannot be used. */
  fallbackPollMs?: number;
}

export interface FileWatch {
  close(): void;
}

/** Identity of a file's content as the filesystem shows it: changes on write, append and rename. */
export function statSignature(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return "absent";
  }
}

export function watchFile(path: string, onChange: () => void, options: FileWatchOptions = {}): FileWatch {
  const name = basename(path);
  return watchFolder(
    dirname(path),
    (file) => file === name,
    () => statSignature(path),
    onChange,
    options,
  );
}

/**
 * Watches the files of `dir` that `isRelevant` accepts; `onChange` runs only when `signature()`
 * (the caller's cheap summary of those files) changed.
 */
export function watchFolder(
  dir: string,
  isRelevant: (name: string) => boolean,
  signature: () => string,
  onChange: () => void,
  options: FileWatchOptions = {},
): FileWatch {
  const { safetyPollMs = 1000, fallbackPollMs = 250 } = options;
  let last = signature();
  let closed = false;
  const check = () => {
    if (closed) return;
    const now = signature();
    if (now === last) return;
    last = now;
    onChange();
  };
  let poll: NodeJS.Timeout;
  const startPolling = (ms: number) => {
    clearInterval(poll);
    poll = setInterval(check, ms);
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(dir, { persistent: false }, (_event, file) => {
      if (file === null || isRelevant(file)) check();
    });
    watcher.on("error", () => {
      watcher?.close();
      watcher = null;
      startPolling(fallbackPollMs);
    });
    startPolling(safetyPollMs);
  } catch {
    startPolling(fallbackPollMs);
  }
  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
    },
  };
}
