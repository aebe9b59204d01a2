// `bgtask logs <id> [--follow]`: what a task printed (stdout, stderr) and logged (task.log), every
// try marked, every line timestamped, stripped of terminal escapes (raw with --json). --follow
// streams new lines as they are written and ends when the task is final (Ctrl-C: exit 130).
import { isFinal } from "../../core/task.ts";
import type { LogLine } from "../../core/log-line.ts";
import type { LocationFlags } from "../../config/config.ts";
import { watchFile } from "../../host/file-watch.ts";
import { taskLogPath } from "../../host/home.ts";
import { LogFollower } from "../log-reader.ts";
import { toJson } from "../output/json.ts";
import { renderLogLines } from "../output/render.ts";
import { getTask, openSession, printJson, type Session } from "../session.ts";

export interface LogsOptions extends LocationFlags {
  follow?: boolean;
  json?: boolean;
}

type Lines = (LogLine | string)[];

const asJson = (line: LogLine | string) => (typeof line === "string" ? { text: line } : line);

/** Prints lines as they come: rendered for a person, or one JSON object per line. */
function printer(json: boolean): (lines: Lines) => void {
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

/** Streams until the task is final (or gone); resolves true when interrupted. */
function followUntilFinal(session: Session, id: string, follower: LogFollower, print: (lines: Lines) => void): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    let settled = false;
    let checking = false;
    let again = false;
    const finish = (error: unknown, interrupted = false) => {
      if (settled) return;
      settled = true;
      logWatch.close();
      journalWatch.close();
      process.off("SIGINT", onInterrupt);
      if (error) reject(error);
      else resolve(interrupted);
    };
    const onInterrupt = () => finish(null, true);
    const readNew = () => {
      try {
        if (!settled) follower.readNew(print);
      } catch (error) {
        finish(error);
      }
    };
    const checkFinal = async () => {
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          const task = await session.store.get(id);
          if (!task || isFinal(task.status)) {
            // The worker writes every line before it settles the try: this read gets the last ones.
            readNew();
            finish(null);
          }
        } while (again && !settled);
      } catch (error) {
        finish(error);
      } finally {
        checking = false;
      }
    };
    const logWatch = watchFile(taskLogPath(session.config.home, id), readNew);
    const journalWatch = session.store.watchChanges(() => void checkFinal());
    process.on("SIGINT", onInterrupt);
    readNew();
    void checkFinal();
  });
}

export async function logs(id: string, options: LogsOptions): Promise<void> {
  const session = await openSession(options);
  const task = await getTask(session, id);
  const follower = new LogFollower(taskLogPath(session.config.home, task.id));
  if (options.json && !options.follow) {
    const all: Lines = [];
    follower.readNew((lines) => all.push(...lines));
    printJson(all.map(asJson));
    return;
  }
  let silent = true;
  const printLines = printer(options.json === true);
  const print = (lines: Lines) => {
    silent &&= lines.length === 0;
    printLines(lines);
  };
  follower.readNew(print);
  if (options.follow && !isFinal(task.status) && (await followUntilFinal(session, task.id, follower, print))) {
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
