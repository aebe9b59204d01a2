// The worker's side of a try run in a child process (`isolation: "process"`, isolated.ts): the
// child runs the executor; its output goes to the try's log, its reports through the try's
// Reporter, an abort of the try's signal is passed on, and a try let go past its grace is killed
// with its process (the worker runs on: nothing of it is left in the worker's event loop).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import type { TaskReport } from "../journal/store.ts";
import type { AbortReason } from "./abort-reasons.ts";
import type { Reporter } from "./reporter.ts";
import type { LogStream } from "../core/log-line.ts";
import type { TaskLog } from "./task-log.ts";

// Relative to the parent folder: this line also runs inside the worker bundle, dist/worker/main.js.
const ISOLATED_ENTRY = fileURLToPath(new URL("../worker/isolated.js", import.meta.url));

export type ToIsolated =
  | {
      type: "start";
      task: TaskRecord;
      tasksDir: string;
      root: string;
      home: string;
      journal: string;
      lockStaleMs: number;
      lockWaitMs: number;
      deadline: number;
    }
  | { type: "abort"; reason: AbortReason }
  | { type: "flushed"; n: number };

export type FromIsolated =
  | { type: "log"; stream: string; text: string }
  | { type: "report"; report: TaskReport }
  | { type: "flush"; n: number }
  | { type: "done"; outcome: TryOutcome };

export interface IsolatedParts {
  task: TaskRecord;
  config: Config;
  signal: AbortSignal;
  /** See TryParts.letGo. */
  letGo?: AbortSignal;
  reporter: Reporter;
  log: TaskLog;
  deadline: number;
}

/** Runs the try in a child process and says how it ended; a child that exits without saying is a failed try. */
export function executeInProcess(parts: IsolatedParts): Promise<TryOutcome> {
  const { task, config, signal, reporter, log } = parts;
  const child = fork(ISOLATED_ENTRY, [], { cwd: config.root, stdio: ["ignore", "pipe", "pipe", "ipc"], serialization: "advanced" });
  // What the child prints outside the executor's own writes (a crash's stack, a native library's output) is the try's too.
  child.stdout!.on("data", (chunk: Buffer) => log.write("stdout", chunk.toString("utf8")));
  child.stderr!.on("data", (chunk: Buffer) => log.write("stderr", chunk.toString("utf8")));
  const onAbort = () => {
    if (child.connected) child.send({ type: "abort", reason: signal.reason as AbortReason } satisfies ToIsolated);
  };
  // Let go past its grace: nothing of the try may run on.
  const onLetGo = () => child.kill("SIGKILL");
  parts.letGo?.addEventListener("abort", onLetGo);
  return new Promise<TryOutcome>((resolve) => {
    let outcome: TryOutcome | null = null;
    child.on("message", (message: FromIsolated) => {
      if (message.type === "log") log.write(message.stream as LogStream, message.text);
      else if (message.type === "report") reporter.schedule(message.report);
      else if (message.type === "flush")
        void reporter.flush().finally(() => {
          if (child.connected) child.send({ type: "flushed", n: message.n } satisfies ToIsolated);
        });
      else outcome = message.outcome;
    });
    child.on("exit", (code, exitSignal) => {
      signal.removeEventListener("abort", onAbort);
      parts.letGo?.removeEventListener("abort", onLetGo);
      resolve(
        outcome ?? {
          kind: "failed",
          error: { message: `its process exited (${exitSignal ?? `code ${code}`}) before the try ended`, stack: null, where: null },
          message: null,
        },
      );
    });
    child.send({
      type: "start",
      task,
      tasksDir: config.tasksDir,
      root: config.root,
      home: config.home,
      journal: config.journal,
      lockStaleMs: config.timings.lockStaleMs,
      lockWaitMs: config.timings.lockWaitMs,
      deadline: parts.deadline,
    } satisfies ToIsolated);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
  });
}
