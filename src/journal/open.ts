// The kinds of journal, and the one place that knows them: what a location names (a folder of JSON
// files or a PostgreSQL URL), and how to open, check, repair and migrate each. Every store is
// imported only when asked for, so reading a location loads no store, and a file journal never
// loads pg. Close an opened store when done.
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { LockSettings } from "./file/lock.ts";
import type { RepairReport } from "./file/repair.ts";
import { shownPgLocation } from "./postgres/location.ts";
import type { DoctorReport } from "./report.ts";
import type { JournalStore } from "./store.ts";

export type { DoctorReport, LockSettings, RepairReport };

/**
 * "folder": the JSON files; "postgres": a database shared by hosts that cannot see each other's
 * processes, so there a worker is judged by its heartbeat in the journal alone.
 */
export type JournalKind = "folder" | "postgres";

function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** The kind of journal `location` names; a URL of another kind is refused with one sentence. */
export function journalKind(location: string): JournalKind {
  if (/^postgres(ql)?:\/\//.test(location)) return "postgres";
  if (isUrl(location)) throw new UsageError(`--journal "${location}" is not a folder nor a supported URL`);
  return "folder";
}

/** True when `location` is a path to resolve (against the project root), not a URL. */
export function isFolderLocation(location: string): boolean {
  return !isUrl(location);
}

/** A journal's location as it may be shown and compared: a folder's absolute path; a URL without its password, with its schema always named. */
export function shownLocation(location: string): string {
  return journalKind(location) === "folder" ? resolve(location) : shownPgLocation(location);
}

export async function openStore(location: string, lock: LockSettings): Promise<JournalStore> {
  if (journalKind(location) === "postgres") {
    const { openPgStore } = await import("./postgres/store.ts");
    return openPgStore(location, lock.waitMs);
  }
  const { FileStore } = await import("./file/store.ts");
  return new FileStore(resolve(location), lock);
}

/** `bgtask doctor`: a folder file by file, a PostgreSQL journal by its schema and records. Never goes through the store, so it works on a journal the store refuses. */
export async function diagnoseJournal(location: string): Promise<DoctorReport> {
  if (journalKind(location) === "postgres") {
    const { diagnosePg } = await import("./postgres/diagnose.ts");
    return diagnosePg(location);
  }
  const { diagnose } = await import("./file/doctor.ts");
  return diagnose(resolve(location));
}

/** `bgtask doctor --repair`: keeps a copy of the damaged files, then rebuilds a journal folder from what is readable. */
export async function repairJournal(location: string, lock: LockSettings): Promise<RepairReport> {
  if (journalKind(location) === "postgres") {
    throw new UsageError(
      "doctor --repair rebuilds a journal folder; a PostgreSQL journal is recovered by PostgreSQL itself (its write-ahead log), and `bgtask doctor` checks it",
    );
  }
  const { repair } = await import("./file/repair.ts");
  return repair(resolve(location), lock);
}

export interface Migration {
  location: string;
  /** The schema's version before and after; equal when it was up to date. */
  from: number;
  to: number;
}

/** `bgtask migrate`: creates or upgrades a PostgreSQL journal's schema (under its advisory lock); a folder needs none, and says null. */
export async function migrateJournal(location: string): Promise<Migration | null> {
  if (journalKind(location) === "folder") return null;
  const { migratePg } = await import("./postgres/diagnose.ts");
  const done = await migratePg(location);
  return { location: `${done.location} (schema ${done.schema})`, from: done.from, to: done.to };
}
