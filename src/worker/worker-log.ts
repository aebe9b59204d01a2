// A line about the worker itself for logs/worker.log (or a tick's stderr, which cron mails). Written
// straight to fd 2: during a try process.stderr is captured into the task's log, and in the
// supervisor thread it would wait for the main thread, which a busy executor blocks.
import { writeSync } from "node:fs";

export function workerSay(text: string): void {
  writeSync(2, `${new Date().toISOString()} bgtask worker ${process.pid}: ${text}\n`);
}
