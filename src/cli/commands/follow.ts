// Follows one task until it is final: a spinner with its progress at a terminal, one plain line
// per change otherwise. Exit code 1 when the task did not succeed.
import type { TaskRecord } from "../../core/task.ts";
import { isFinal, publicRecord } from "../../core/task.ts";
import { outputMode } from "../output/color.ts";
import { progressBar, renderChangeLine } from "../output/render.ts";
import { sanitizeInline } from "../output/sanitize.ts";
import { getTask, printJson, type Session } from "../session.ts";

const POLL_MS = 150;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function follow(session: Session, id: string, options: { json?: boolean }): Promise<TaskRecord> {
  const interactive = outputMode().interactive;
  const spinner = interactive ? (await import("ora")).default({ discardStdin: false, stream: process.stderr }).start() : null;
  let last = "";
  let task = await getTask(session, id);
  try {
    for (;;) {
      const line = renderChangeLine(task);
      if (line !== last) {
        last = line;
        if (spinner) {
          spinner.text = `${task.id} ${task.status} ${progressBar(task.progress)} ${Math.round(task.progress)}% ${sanitizeInline(task.message ?? "")}`;
        } else if (!options.json) {
          process.stdout.write(`${line}\n`);
        }
      }
      if (isFinal(task.status)) break;
      await sleep(POLL_MS);
      task = await getTask(session, id);
    }
  } finally {
    spinner?.stop();
  }
  if (options.json) printJson(publicRecord(task));
  else if (spinner) process.stdout.write(`${renderChangeLine(task)}\n`);
  if (task.status !== "succeeded") process.exitCode = 1;
  return task;
}
