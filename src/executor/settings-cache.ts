// What `run` needs to know about an executor (its retry policy, timeout, serial key), remembered
// per file so that enqueueing does not import the module every time: loading a TypeScript executor
// through jiti costs more than the rest of `bgtask run` (docs/README-performance.md). An entry is used only while
// the file's size and mtime are unchanged, and never for a `serialKey` function, which needs the
// module. A module that loads once is assumed to load again; if it stops (a broken import), the
// worker reports it on the task.
import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RetryPolicy } from "../core/task.ts";
import type { ExecutorFile } from "./discover.ts";
import { loadExecutor } from "./load.ts";
import { uniqueName } from "../host/unique-name.ts";

export interface ExecutorSettings {
  retry: RetryPolicy | null;
  timeoutMs: number | null;
  priority: number | null;
  concurrency: number | null;
  serialKeyOf(context: Record<string, unknown>): string | null;
}

interface Entry {
  mtimeMs: number;
  size: number;
  retry: RetryPolicy | null;
  timeoutMs: number | null;
  serial: boolean;
  /** Absent in entries an older bgtask wrote: those are not used. */
  priority?: number | null;
  concurrency?: number | null;
}

const CACHE_FILE = "executors.cache.json";

function readCache(path: string): Record<string, Entry> {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, Entry>) : {};
  } catch {
    return {}; // absent or torn: a cache, rebuilt on the next load
  }
}

/**
 * Settings of `executor`, from the cache when its file is unchanged, else by loading it (which
 * validates it). `home`: the checked bgtask home, or null when there is none yet (nothing cached).
 */
export async function executorSettings(executor: ExecutorFile, home: string | null): Promise<ExecutorSettings> {
  const path = home === null ? null : join(home, CACHE_FILE);
  const stat = statSync(executor.file);
  const cache = path === null ? {} : readCache(path);
  const hit = cache[executor.file];
  if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size && hit.priority !== undefined && hit.concurrency !== undefined) {
    const { priority, concurrency } = hit;
    return { retry: hit.retry, timeoutMs: hit.timeoutMs, priority, concurrency, serialKeyOf: () => (hit.serial ? executor.name : null) };
  }
  const loaded = await loadExecutor(executor, home);
  if (path !== null && typeof loaded.definition.serialKey !== "function") {
    cache[executor.file] = {
      mtimeMs: stat.mtimeMs,
      size: stat.size,
      retry: loaded.retry,
      timeoutMs: loaded.timeoutMs,
      serial: loaded.definition.serial === true,
      priority: loaded.priority,
      concurrency: loaded.concurrency,
    };
    const temp = `${path}.${uniqueName()}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(cache), { mode: 0o600, flag: "wx" });
      renameSync(temp, path);
    } catch {
      // Best effort: the next run loads the module again. A full disk fails the write after the
      // temp file was made: leave nothing behind.
      try {
        unlinkSync(temp);
      } catch {
        // never made, or renamed already
      }
    }
  }
  return loaded;
}
