// The views of `bgtask doctor`: the journal's files and what is wrong with each, and what a repair kept and lost.
import type { DoctorReport, RepairReport } from "../../client/doctor.ts";
import { sanitizeInline } from "./sanitize.ts";

export function renderFiles(report: DoctorReport): string {
  const width = Math.max(...report.files.map((f) => f.file.length));
  const lines = report.files.map((f) => {
    const what = f.problem ?? f.notes.join("; ");
    return `${f.file.padEnd(width)}  ${f.status.padEnd(7)}  ${sanitizeInline(what)}`.trimEnd();
  });
  if (report.leftovers.length > 0)
    lines.push(`left over (swept by the next writer, or earlier repairs' copies): ${sanitizeInline(report.leftovers.join(", "))}`);
  return lines.join("\n");
}

function idList(ids: readonly string[]): string {
  return ids.length > 20 ? `${ids.slice(0, 20).join(", ")} and ${ids.length - 20} more` : ids.join(", ");
}

export function renderRepair(report: RepairReport): string {
  if (!report.repaired) return `${renderFiles(report.before)}\nthe journal is healthy: nothing to repair`;
  const lines = [renderFiles(report.before), "", `copied the journal files as they were to ${report.copies}`];
  lines.push(
    `rebuilt the journal: kept ${report.kept} task${report.kept === 1 ? "" : "s"} (${report.active} active, ${report.finished} finished); the next id is ${report.nextId}`,
  );
  if (report.lostRevs)
    lines.push(`committed transactions from rev ${report.lostRevs.from}${report.lostRevs.to ? ` to ${report.lostRevs.to}` : " on"} could not be recovered`);
  if (report.lost.length > 0) lines.push(`could not recover task${report.lost.length === 1 ? "" : "s"} ${idList(report.lost)}`);
  if (report.stale.length > 0) lines.push(`kept in an older state than the damage took away: ${idList(report.stale)}`);
  if (report.unverified.length > 0) lines.push(`kept as read from bytes that failed their checksum (a value may be changed): ${idList(report.unverified)}`);
  if (report.unknown.length > 0) lines.push(`no trace of ${idList(report.unknown)}: lost, or removed by \`bgtask remove --finished\` earlier`);
  if (!report.lostSomething) lines.push("nothing was lost");
  return lines.join("\n");
}
