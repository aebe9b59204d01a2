// Checking and repairing the journal folder, file by file. Works on a journal every other
// operation refuses: it never goes through the store.
import { resolve } from "node:path";
import type { Config } from "../config/config.ts";
import { UsageError } from "../errors.ts";
import { diagnose, type DoctorReport } from "../journal/doctor.ts";
import { isUrlLocation } from "../journal/location.ts";
import { repair, type RepairReport } from "../journal/repair.ts";

export type { DoctorReport, RepairReport };

function journalFolder(config: Config): string {
  if (isUrlLocation(config.journal)) throw new UsageError(`doctor checks a journal folder; "${config.journal}" is not one`);
  return resolve(config.journal);
}

export function checkJournal(config: Config): Promise<DoctorReport> {
  return diagnose(journalFolder(config));
}

/** Keeps a copy of the damaged files, then rebuilds the journal from what is readable. */
export function repairJournal(config: Config): Promise<RepairReport> {
  return repair(journalFolder(config), { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
}
