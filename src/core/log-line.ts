// The line format of a task's log file (<home>/logs/<id>.log), written by the worker and read by
// `logs` and `status`: "<ISO time> [try <n>] <stream> | <text>". Pure: no I/O.

export type LogStream = "stdout" | "stderr" | "log" | "bgtask";

export interface LogLine {
  at: string;
  try: number;
  stream: string;
  text: string;
}

export function formatLogLine(at: Date, tryNumber: number, stream: LogStream, text: string): string {
  return `${at.toISOString()} [try ${tryNumber}] ${stream.padEnd(6)} | ${text}\n`;
}

const LINE = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) \[try (\d+)\] (\S+)\s* \| (.*)$/s;

/** Parses one line (without its newline); null for a line that is not in the format. */
export function parseLogLine(line: string): LogLine | null {
  const match = LINE.exec(line);
  if (!match) return null;
  return { at: match[1]!, try: Number(match[2]), stream: match[3]!, text: match[4]! };
}
