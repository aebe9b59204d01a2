// Completion hooks, run by the worker (or tick) that recorded a task's final status, after the
// write: the executor's onFinish(task), then the config's command for that status, given the
// record as JSON on stdin. Neither can change the task: what fails is logged (worker log and the
// task's log), and the worker goes on.
import type { Config } from "../config/config.ts";
import { isFinal, publicRecord, type TaskRecord } from "../core/task.ts";
import { formatDuration } from "../core/duration.ts";
import type { LoadedExecutor } from "../executor/load.ts";
import type { TaskOutput } from "../journal/task-output.ts";
import { TaskLog } from "./task-log.ts";
import { workerSay } from "./worker-log.ts";

/** How long a hook command may run before it is killed (SIGTERM, then SIGKILL after 2 s). */
export const HOOK_TIMEOUT_MS = 30_000;

async function logProblem(output: TaskOutput, task: TaskRecord, text: string): Promise<void> {
  workerSay(`task ${task.id}: ${text}`);
  const log = new TaskLog(output, task.id, task.tries);
  log.write("bgtask", `${text}\n`);
  await log.close();
}

// Relative to the parent folder: this line also runs inside the CLI bundle, dist/cli/bgtask.cjs (`tick`).
const HOOK_COMMAND = new URL("../worker/hook-command.js", import.meta.url).href;

async function runCommand(config: Config, output: TaskOutput, task: TaskRecord, command: readonly string[]): Promise<void> {
  const { runHookCommand } = (await import(HOOK_COMMAND)) as typeof import("./hook-command.ts");
  const { failure } = await runHookCommand(command, JSON.stringify(publicRecord(task)), config.root, HOOK_TIMEOUT_MS);
  if (failure !== null) {
    const why = failure === "timed out" ? `it ran longer than ${formatDuration(HOOK_TIMEOUT_MS)} and was stopped` : failure;
    await logProblem(output, task, `the ${task.status} hook ${JSON.stringify(command)} failed: ${why}`);
  }
}

/** Runs the hooks of each task in `tasks` that is final; `executor` loads (or returns the loaded) executor. */
export async function runFinishHooks(
  config: Config,
  output: TaskOutput,
  tasks: readonly TaskRecord[],
  executor: (name: string) => Promise<LoadedExecutor>,
): Promise<void> {
  for (const task of tasks) {
    if (!isFinal(task.status)) continue;
    try {
      const loaded = await executor(task.executor).catch(() => null);
      await loaded?.definition.onFinish?.(publicRecord(task));
    } catch (error) {
      await logProblem(output, task, `onFinish() threw: ${(error as Error)?.message ?? String(error)}`);
    }
    const command = config.hooks[task.status];
    if (command) {
      try {
        await runCommand(config, output, task, command);
      } catch (error) {
        await logProblem(output, task, `the ${task.status} hook ${JSON.stringify(command)} could not start: ${(error as Error).message}`);
      }
    }
  }
}
