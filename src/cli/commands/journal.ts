// `bgtask journal copy --from J --to J [--json]`: copies every task with its history, log and
// attachments, and the paused queues and schedule states, from one journal into another.
import { copyJournal, type JournalCopyOptions } from "../../client/journal-copy.ts";
import { printJson } from "../output/json.ts";
import { formatBytes } from "../output/text.ts";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export async function journalCopy(options: JournalCopyOptions & { json?: boolean }): Promise<void> {
  const done = await copyJournal(options);
  if (options.json) {
    printJson(done);
    return;
  }
  const what = [
    `${plural(done.logs, "log")} (${formatBytes(done.logBytes)})`,
    `${plural(done.attachments, "attachment")} (${formatBytes(done.attachmentBytes)})`,
    plural(done.pausedQueues.length, "paused queue"),
    plural(done.schedules, "schedule state"),
  ];
  process.stdout.write(`copied ${plural(done.tasks, "task")} with ${what.join(", ")} from ${done.from} to ${done.to}\n`);
}
