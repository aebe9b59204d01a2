// Test hook for the crash tests: BGTASK_TEST_CRASH_AT=<point> makes the process SIGKILL itself at
// that point of a journal write, so tests can prove every step leaves a valid journal.
const target = process.env.BGTASK_TEST_CRASH_AT;

export type CrashPoint =
  | "locked"
  | "read"
  | "history-appended"
  | "log-appended"
  | "temp-written"
  | "renamed"
  | "snapshot-written"
  | "before-unlock";

export function crashPoint(point: CrashPoint): void {
  if (target === point) process.kill(process.pid, "SIGKILL");
}
