// The commands that act on every task a filter finds (retry --failed, cancel --all-queued,
// remove --finished): --dry-run shows those tasks and changes nothing, and a person at a terminal
// confirms more than CONFIRM_ABOVE of them first (--yes skips it). Scripts (stdin or stderr not a
// terminal, or CI set) go on without a question, as before.
import { createInterface } from "node:readline/promises";
import { publicRecord, type TaskRecord } from "../core/task.ts";
import { printJson } from "./output/json.ts";

export const CONFIRM_ABOVE = 10;

export interface BulkFlags {
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

const count = (n: number) => `${n} task${n === 1 ? "" : "s"}`;

/**
 * Whether to go on and `verb` the tasks `find` finds: not on a dry run (which prints them), nor
 * when the person says no. Found only when a dry run or a question needs them: a script's
 * command reads no more of the journal than before.
 */
export async function goAhead(verb: string, find: () => Promise<readonly TaskRecord[]>, flags: BulkFlags): Promise<boolean> {
  const mayAsk = !flags.yes && process.stdin.isTTY && process.stderr.isTTY && !("CI" in process.env);
  if (!flags.dryRun && !mayAsk) return true;
  const tasks = await find();
  if (flags.dryRun) {
    if (flags.json) printJson({ dryRun: true, tasks: tasks.map(publicRecord) });
    else {
      const lines = tasks.map((task) => `${task.id} ${task.executor} ${task.status}\n`).join("");
      process.stdout.write(`would ${verb} ${count(tasks.length)}${tasks.length > 0 ? ":" : ""}\n${lines}--dry-run: nothing changed\n`);
    }
    return false;
  }
  if (tasks.length <= CONFIRM_ABOVE) return true;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${verb} ${count(tasks.length)}? (--dry-run lists them, --yes skips this) [y/N] `);
  prompt.close();
  if (/^y(es)?$/i.test(answer.trim())) return true;
  process.stderr.write("nothing changed\n");
  return false;
}
