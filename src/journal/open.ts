// Picks the journal store for a location: a folder (the default JSON files) or, later, a URL.
// Asynchronous, as opening a database is (connecting, migrating); close the store when done.
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { FileStore } from "./file/store.ts";
import { isPostgresLocation, isUrlLocation } from "./location.ts";
import type { LockSettings } from "./file/lock.ts";
import type { JournalStore } from "./store.ts";

export async function openStore(location: string, lock: LockSettings): Promise<JournalStore> {
  if (isPostgresLocation(location)) {
    // Imported here only: the file journal's start-up does not load pg.
    const { openPgStore } = await import("./postgres/store.ts");
    return openPgStore(location, lock.waitMs);
  }
  if (isUrlLocation(location)) {
    throw new UsageError(`--journal "${location}" is not a folder nor a supported URL`);
  }
  return new FileStore(resolve(location), lock);
}
