// Test hooks for the crash tests: BGTASK_TEST_CRASH_AT=<point>[@<n>] makes the process SIGKILL itself
// the n-th time (default: the first) it reaches that point of a journal write, so tests can prove
// every step of every write a process makes (a worker's claim, report, finish) leaves a valid journal.
// BGTASK_TEST_STOP_AT=<point>[@<n>] makes it SIGSTOP itself there instead: a writer frozen mid-commit
// that a test lets go (SIGCONT) after others have written.
function parse(spec: string | undefined): { point: string; nth: number } {
  const [point = "", nth] = (spec ?? "").split("@");
  return { point, nth: Number(nth ?? 1) };
}
const kill = parse(process.env.BGTASK_TEST_CRASH_AT);
const stop = parse(process.env.BGTASK_TEST_STOP_AT);
const reached = new Map<string, number>();

export type CrashPoint =
  | "locked"
  | "read"
  | "queue-appended"
  | "history-appended"
  | "history-indexed"
  | "log-appended"
  | "temp-written"
  | "renamed"
  | "snapshot-written"
  | "before-unlock";

export function crashPoint(point: CrashPoint): void {
  if (point !== kill.point && point !== stop.point) return;
  const count = (reached.get(point) ?? 0) + 1;
  reached.set(point, count);
  if (point === kill.point && count === kill.nth) process.kill(process.pid, "SIGKILL");
  if (point === stop.point && count === stop.nth) process.kill(process.pid, "SIGSTOP");
}
