// `bgtask logs <id> [--follow]`: what a task printed (stdout, stderr) and logged (task.log), every
// try marked, every line timestamped, stripped of terminal escapes (raw with --json). --follow
// streams new lines as they are written and ends when the task is final (Ctrl-C: exit 130).
import { readTaskLog, type LogLines } from "../../client/logs.ts";
import { openSession } from "../../client/session.ts";
import type { LocationFlags } from "../../config/config.ts";
import type { LogLine } from "../../core/log-line.ts";
import { isFinal } from "../../core/task.ts";
import { untilInterrupted } from "../interrupt.ts";
import { printJson, toJson } from "../output/json.ts";
import { renderLogLines } from "../output/logs.ts";

export interface LogsOptions extends LocationFlags {
  follow?: boolean;
  json?: boolean;
}

const asJson = (line: LogLine | string) => (typeof line === "string" ? { text: line } : line);

/** Prints lines as they come: rendered for a person, or one JSON object per line. */
function printer(json: boolean): (lines: LogLines) => void {
  let lastTry: number | null = null;
  return (lines) => {
    if (lines.length === 0) return;
    if (json) {
      process.stdout.write(lines.map((l) => `${toJson(asJson(l))}\n`).join(""));
      return;
    }
    const rendered = renderLogLines(lines, lastTry);
    lastTry = rendered.lastTry;
    process.stdout.write(`${rendered.text.join("\n")}\n`);
  };
}

export async function logs(id: string, options: LogsOptions): Promise<void> {
  const session = await openSession(options);
  if (options.json && !options.follow) {
    const all: LogLines = [];
    await readTaskLog(session, id, (lines) => all.push(...lines));
    printJson(all.map(asJson));
    return;
  }
  let silent = true;
  const printLines = printer(options.json === true);
  const print = (lines: LogLines) => {
    silent &&= lines.length === 0;
    printLines(lines);
  };
  const { task, stopped } = await untilInterrupted((signal) => readTaskLog(session, id, print, { follow: options.follow, signal }));
  if (stopped) {
    process.exitCode = 130;
    return;
  }
  // An empty stdout alone looks like a broken command; stderr keeps `logs 42 > file` empty.
  if (silent && !options.json) {
    // A follow that was not interrupted saw the task end.
    const ended = options.follow === true || isFinal(task.status);
    process.stderr.write(`(no output: task ${task.id} has printed and logged nothing${ended ? "" : " yet"})\n`);
  }
}
