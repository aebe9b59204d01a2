// A task's log for `logs` and `status`, read through its journal's task output (a file, or rows in
// PostgreSQL): whole lines only, each parsed with core/log-line.ts. Never loads a big log at once.
import { parseLogLine, type LogLine } from "../core/log-line.ts";
import type { TaskOutput } from "../journal/task-output.ts";

/** Lines of a task's log: parsed, or as they are when not in the log format. */
export type LogLines = (LogLine | string)[];

/** Whole lines of log text (each ending with "\n"), parsed. */
export function parseLogText(text: string): LogLines {
  const lines = text.split("\n");
  lines.pop();
  return lines.map((line) => parseLogLine(line) ?? line);
}

/** The last `count` lines (looking at most at about the last `maxBytes`). */
export async function readLogTail(output: TaskOutput, taskId: string, count: number, maxBytes = 64 * 1024): Promise<LogLines> {
  const { text, cut } = await output.logTail(taskId, count, maxBytes);
  const lines = parseLogText(text);
  // Starting mid-log, the first piece is most likely part of a line.
  if (cut) lines.shift();
  return lines.slice(-count);
}
