// Test hook for the crash tests: BGTASK_TEST_CRASH_AT=<point>[@<n>] makes the process SIGKILL itself
// the n-th time (default: the first) it reaches that point of a journal write, so tests can prove
// every step of every write a process makes (a worker's claim, report, finish) leaves a valid journal.
const [target, nth] = (process.env.BGTASK_TEST_CRASH_AT ?? "").split("@");
const killAt = Number(nth ?? 1);
let reached = 0;

export type CrashPoint =
  | "locked"
  | "read"
  | "history-appended"
  | "history-indexed"
  | "log-appended"
  | "temp-written"
  | "renamed"
  | "snapshot-written"
  | "before-unlock";

export function crashPoint(point: CrashPoint): void {
  if (target === point && ++reached === killAt) process.kill(process.pid, "SIGKILL");
}
