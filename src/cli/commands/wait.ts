// `bgtask wait <id …> [--timeout 10m]`: quiet until every task is final (stderr says why, when
// the wait may be long: a dead worker recovered, no worker to come), then exit 0 when all
// succeeded, 1 when one failed or was cancelled, 124 when the timeout came first; Ctrl-C: 130.
import { checkTaskId, openSession } from "../../client/session.ts";
import { waitForTasks } from "../../client/wait.ts";
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { publicRecord } from "../../core/task.ts";
import { ExitCode } from "../../errors.ts";
import { untilInterrupted } from "../interrupt.ts";
import { printJson } from "../output/json.ts";

export interface WaitOptions extends LocationFlags {
  timeout?: string;
  json?: boolean;
}

export async function wait(ids: string[], options: WaitOptions): Promise<void> {
  const unique = [...new Set(ids.map(checkTaskId))];
  const timeoutMs = options.timeout === undefined ? undefined : parseDurationFlag("--timeout", options.timeout, '"30s" or "10m"');
  const session = await openSession(options);
  const note = (text: string) => process.stderr.write(`${text}\n`);
  const tasks = await untilInterrupted((signal) => waitForTasks(session, unique, { timeoutMs, signal, note }));
  if (tasks === null) {
    process.exitCode = 130;
    return;
  }
  if (options.json) printJson(unique.length === 1 ? publicRecord(tasks[0]!) : tasks.map(publicRecord));
  process.exitCode = tasks.every((t) => t.status === "succeeded") ? ExitCode.ok : ExitCode.taskFailed;
}
