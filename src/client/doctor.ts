// Checking, repairing and migrating the journal of a project's config; open.ts knows each kind.
import type { Config } from "../config/config.ts";
import {
  diagnoseJournal,
  migrateJournal as migrateAt,
  repairJournal as repairAt,
  type DoctorReport,
  type Migration,
  type RepairReport,
} from "../journal/open.ts";

export type { DoctorReport, Migration, RepairReport };

export function checkJournal(config: Config): Promise<DoctorReport> {
  return diagnoseJournal(config.journal);
}

/** Keeps a copy of the damaged files, then rebuilds the journal from what is readable. */
export function repairJournal(config: Config): Promise<RepairReport> {
  return repairAt(config.journal, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
}

/** `bgtask migrate`: creates or upgrades a PostgreSQL journal's schema (under its advisory lock); a folder needs none. */
export function migrateJournal(config: Config): Promise<Migration | null> {
  return migrateAt(config.journal);
}
