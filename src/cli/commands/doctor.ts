// `bgtask doctor [--repair] [--json]`: checks the journal file by file (exit 0 healthy, 3 damaged);
// with --repair keeps copies of the damaged files and rebuilds it (exit 0 nothing lost, 1 lost).
// Works on a journal every other command refuses: it never goes through the store.
import { checkJournal, repairJournal } from "../../client/doctor.ts";
import { loadConfig, type LocationFlags } from "../../config/config.ts";
import { ExitCode, UsageError } from "../../errors.ts";
import { renderFiles, renderRepair } from "../output/doctor.ts";
import { printJson } from "../output/json.ts";

export interface DoctorOptions extends LocationFlags {
  repair?: boolean;
  /** With --repair: only the check, which says what the repair would do. */
  dryRun?: boolean;
  json?: boolean;
}

export async function doctor(options: DoctorOptions): Promise<void> {
  if (options.dryRun && !options.repair) throw new UsageError("--dry-run goes with --repair");
  const config = loadConfig(options);
  if (options.repair && !options.dryRun) {
    const report = await repairJournal(config);
    if (options.json) printJson(report);
    else process.stdout.write(`${renderRepair(report)}\n`);
    process.exitCode = report.lostSomething ? ExitCode.taskFailed : ExitCode.ok;
    return;
  }
  const report = await checkJournal(config);
  if (options.json) printJson(report);
  else {
    // A PostgreSQL journal's report starts with its schema: PostgreSQL recovers it, not --repair.
    const database = report.files[0]?.role === "schema";
    const verdict = report.healthy
      ? "the journal is healthy"
      : database
        ? "the journal's schema or records are not what this bgtask can use (see above)"
        : "the journal is damaged: `bgtask doctor --repair` keeps a copy of its files and rebuilds it from what is readable";
    process.stdout.write(`${renderFiles(report)}\n${verdict}\n${options.dryRun ? "--dry-run: nothing repaired\n" : ""}`);
  }
  process.exitCode = report.healthy ? ExitCode.ok : ExitCode.journal;
}
