// Checking and repairing the journal: a folder file by file, a PostgreSQL journal by its schema and
// records. Works on a journal every other operation refuses: it never goes through the store.
import { resolve } from "node:path";
import type { Config } from "../config/config.ts";
import { UsageError } from "../errors.ts";
import { diagnose, type DoctorReport } from "../journal/file/doctor.ts";
import { isPostgresLocation, isUrlLocation } from "../journal/location.ts";
import { repair, type RepairReport } from "../journal/file/repair.ts";

export type { DoctorReport, RepairReport };

function journalFolder(config: Config, what: string): string {
  if (isPostgresLocation(config.journal)) {
    throw new UsageError(
      `${what} rebuilds a journal folder; a PostgreSQL journal is recovered by PostgreSQL itself (its write-ahead log), and \`bgtask doctor\` checks it`,
    );
  }
  if (isUrlLocation(config.journal)) throw new UsageError(`${what} checks a journal folder; "${config.journal}" is not one`);
  return resolve(config.journal);
}

export async function checkJournal(config: Config): Promise<DoctorReport> {
  if (isPostgresLocation(config.journal)) {
    const { diagnosePg } = await import("../journal/postgres/store.ts");
    return diagnosePg(config.journal);
  }
  return diagnose(journalFolder(config, "doctor"));
}

/** Keeps a copy of the damaged files, then rebuilds the journal from what is readable. */
export function repairJournal(config: Config): Promise<RepairReport> {
  return repair(journalFolder(config, "doctor --repair"), { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
}

export interface Migration {
  location: string;
  /** The schema's version before and after; equal when it was up to date. */
  from: number;
  to: number;
}

/** `bgtask migrate`: creates or upgrades a PostgreSQL journal's schema (under its advisory lock); a folder needs none. */
export async function migrateJournal(config: Config): Promise<Migration | null> {
  if (!isPostgresLocation(config.journal)) return null;
  const { migratePg } = await import("../journal/postgres/store.ts");
  const done = await migratePg(config.journal);
  return { location: `${done.location} (schema ${done.schema})`, from: done.from, to: done.to };
}
