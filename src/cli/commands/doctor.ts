// `bgtask doctor [--repair] [--json]`: checks the journal file by file (exit 0 healthy, 3 damaged);
// with --repair keeps copies of the damaged files and rebuilds it (exit 0 nothing lost, 1 lost).
// Works on a journal every other command refuses: it never goes through the store.
import { loadConfig, type LocationFlags } from "../../config/config.ts";
import { UsageError, ExitCode } from "../../errors.ts";
import { diagnose, type DoctorReport } from "../../journal/doctor.ts";
import { repair, type RepairReport } from "../../journal/repair.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { printJson } from "../session.ts";
import { resolve } from "node:path";

export interface DoctorOptions extends LocationFlags {
  repair?: boolean;
  json?: boolean;
}

function renderFiles(report: DoctorReport): string {
  const width = Math.max(...report.files.map((f) => f.file.length));
  const lines = report.files.map((f) => {
    const what = f.problem ?? f.notes.join("; ");
    return `${f.file.padEnd(width)}  ${f.status.padEnd(7)}  ${sanitizeInline(what)}`.trimEnd();
  });
  if (report.leftovers.length > 0) lines.push(`left over (swept by the next writer, or earlier repairs' copies): ${sanitizeInline(report.leftovers.join(", "))}`);
  return lines.join("\n");
}

function idList(ids: readonly string[]): string {
  return ids.length > 20 ? `${ids.slice(0, 20).join(", ")} and ${ids.length - 20} more` : ids.join(", ");
}

function renderRepair(report: RepairReport): string {
  if (!report.repaired) return `${renderFiles(report.before)}\nthe journal is healthy: nothing to repair`;
  const lines = [renderFiles(report.before), "", `copied the journal files as they were to ${report.copies}`];
  lines.push(`rebuilt the journal: kept ${report.kept} task${report.kept === 1 ? "" : "s"} (${report.active} active, ${report.finished} finished); the next id is ${report.nextId}`);
  if (report.lostRevs) lines.push(`committed transactions from rev ${report.lostRevs.from}${report.lostRevs.to ? ` to ${report.lostRevs.to}` : " on"} could not be recovered`);
  if (report.lost.length > 0) lines.push(`could not recover task${report.lost.length === 1 ? "" : "s"} ${idList(report.lost)}`);
  if (report.stale.length > 0) lines.push(`kept in an older state than the damage took away: ${idList(report.stale)}`);
  if (report.unverified.length > 0) lines.push(`kept as read from bytes that failed their checksum (a value may be changed): ${idList(report.unverified)}`);
  if (report.unknown.length > 0) lines.push(`no trace of ${idList(report.unknown)}: lost, or removed by \`bgtask remove --finished\` earlier`);
  if (!report.lostSomething) lines.push("nothing was lost");
  return lines.join("\n");
}

export async function doctor(options: DoctorOptions): Promise<void> {
  const config = loadConfig(options);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(config.journal)) throw new UsageError(`doctor checks a journal folder; "${config.journal}" is not one`);
  const home = resolve(config.journal);
  if (options.repair) {
    const report = await repair(home, { staleMs: config.timings.lockStaleMs, waitMs: config.timings.lockWaitMs });
    if (options.json) printJson(report);
    else process.stdout.write(`${renderRepair(report)}\n`);
    process.exitCode = report.lostSomething ? ExitCode.taskFailed : ExitCode.ok;
    return;
  }
  const report = await diagnose(home);
  if (options.json) printJson(report);
  else {
    const verdict = report.healthy
      ? "the journal is healthy"
      : "the journal is damaged: `bgtask doctor --repair` keeps a copy of its files and rebuilds it from what is readable";
    process.stdout.write(`${renderFiles(report)}\n${verdict}\n`);
  }
  process.exitCode = report.healthy ? ExitCode.ok : ExitCode.journal;
}
