// `bgtask journal copy --from J --to J [--json]`: copies every task with its history, log and
// attachments, and the paused queues and schedule states, from one journal into another.
import { copyJournal, type JournalCopyOptions } from "../../client/journal-copy.ts";
import { outputMode } from "../output/color.ts";
import { printJson } from "../output/json.ts";
import { formatBytes } from "../output/text.ts";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A person at a terminal sees the copy move (one line on stderr, redrawn at most every 100 ms); a script's output is unchanged. */
function progressLine(): ((copied: number, total: number) => void) | undefined {
  if (!outputMode().interactive) return undefined;
  let shownAt = 0;
  return (copied, total) => {
    const now = Date.now();
    if (copied < total && now - shownAt < 100) return;
    shownAt = now;
    process.stderr.write(copied < total ? `\r\x1b[Kcopying logs and attachments: ${copied} of ${plural(total, "task")}` : "\r\x1b[K");
  };
}

export async function journalCopy(options: JournalCopyOptions & { json?: boolean }): Promise<void> {
  const done = await copyJournal({ ...options, onProgress: progressLine() });
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
