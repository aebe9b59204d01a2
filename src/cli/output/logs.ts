// The view of `bgtask logs` (and the log tail of `status`): log lines with a marker per try.
import type { LogLine } from "../../core/log-line.ts";
import { chalk } from "./paint.ts";
import { sanitizeInline } from "./sanitize.ts";

const STREAM_COLOR: Record<string, (s: string) => string> = { stderr: chalk.red, bgtask: chalk.dim };

/**
 * Log file lines for a person: a marker where a try begins (`previousTry` carries over between
 * calls, for `logs --follow`), then time, stream and text. Lines not in the log format pass through.
 */
export function renderLogLines(lines: readonly (LogLine | string)[], previousTry: number | null = null): { text: string[]; lastTry: number | null } {
  const text: string[] = [];
  let current = previousTry;
  for (const line of lines) {
    if (typeof line === "string") {
      text.push(sanitizeInline(line));
      continue;
    }
    if (line.try !== current) {
      current = line.try;
      text.push(chalk.bold(`── try ${line.try} ──`));
    }
    const stream = line.stream.padEnd(6);
    text.push(`${chalk.dim(line.at)} ${(STREAM_COLOR[line.stream] ?? ((s: string) => s))(stream)} ${sanitizeInline(line.text)}`);
  }
  return { text, lastTry: current };
}
