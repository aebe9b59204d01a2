// The worker's side of a try run in a sandbox of its own (`isolation: "thread"` or "process",
// isolated.ts): the sandbox runs the executor; its output goes to the try's log, its reports through
// the try's Reporter, an abort of the try's signal is passed on, and a try let go past its grace is
// stopped with its sandbox (the worker runs on: nothing of it is left in the worker's event loop).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Config, Isolation } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import type { TryOutcome } from "../core/transitions.ts";
import type { TaskReport } from "../journal/store.ts";
import type { AbortReason } from "./abort-reasons.ts";
import { preloadFlags } from "./preload.ts";
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
      /** The config's preload, which a thread imports itself (node's --import runs in the main thread only). */
      preload: string | null;
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

/** What the worker holds of a sandbox: the same few calls over a child process or a worker thread. */
interface Sandbox {
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  send(message: ToIsolated): void;
  onMessage(listener: (message: FromIsolated) => void): void;
  /**
   * Once, when it is gone: how it ended, in words ("code 3", "SIGKILL", an uncaught error's
   * message), and the stack of an uncaught error it handed over (a process prints its own).
   */
  onGone(listener: (how: string, uncaught: string | null) => void): void;
  /** Stops it at once, whatever it runs (a busy loop too). */
  stop(): void;
  /** After its outcome is in: a sandbox left with timers or sockets open must not keep the try waiting. */
  done(): void;
  /** "its process", "its thread": how a failure names it. */
  noun: string;
}

function childProcess(config: Config): Sandbox {
  const child = fork(ISOLATED_ENTRY, [], {
    cwd: config.root,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced",
    // A worker's own flags, and its preload where it has none (a tick's process).
    execArgv: [...process.execArgv, ...preloadFlags(config, process.execArgv)],
  });
  return {
    stdout: child.stdout!,
    stderr: child.stderr!,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on("message", listener),
    onGone: (listener) => child.on("exit", (code, signal) => listener(signal ?? `code ${code}`, null)),
    stop: () => child.kill("SIGKILL"),
    // The child exits by itself once its last message is sent (isolated.ts).
    done: () => {},
    noun: "its process",
  };
}

/** A thread shares its worker's working folder (a thread cannot change it): the project root, where workers start. */
function workerThread(): Sandbox {
  const thread = new Worker(ISOLATED_ENTRY, { stdout: true, stderr: true });
  let failure: Error | null = null;
  return {
    stdout: thread.stdout,
    stderr: thread.stderr,
    send: (message) => thread.postMessage(message),
    onMessage: (listener) => thread.on("message", listener),
    onGone: (listener) => {
      // An uncaught error in the thread ends it: its message says how.
      thread.on("error", (error) => {
        failure = error instanceof Error ? error : new Error(String(error));
      });
      thread.on("exit", (code) =>
        listener(failure ? `${failure.name}: ${failure.message}` : `code ${code}`, failure ? (failure.stack ?? failure.message) : null),
      );
    },
    stop: () => void thread.terminate(),
    done: () => void thread.terminate(),
    noun: "its thread",
  };
}

/** Runs the try in a sandbox of its own and says how it ended; a sandbox that ends without saying is a failed try. */
export function executeIsolated(isolation: Exclude<Isolation, "inline">, parts: IsolatedParts): Promise<TryOutcome> {
  const { task, config, signal, reporter, log } = parts;
  const sandbox = isolation === "thread" ? workerThread() : childProcess(config);
  // What it prints outside the executor's own writes (a crash's stack, a native library's output) is the try's too.
  sandbox.stdout.on("data", (chunk: Buffer) => log.write("stdout", chunk.toString("utf8")));
  sandbox.stderr.on("data", (chunk: Buffer) => log.write("stderr", chunk.toString("utf8")));
  const onAbort = () => sandbox.send({ type: "abort", reason: signal.reason as AbortReason });
  // Let go past its grace: nothing of the try may run on.
  const onLetGo = () => sandbox.stop();
  parts.letGo?.addEventListener("abort", onLetGo);
  return new Promise<TryOutcome>((resolve) => {
    let outcome: TryOutcome | null = null;
    sandbox.onMessage((message) => {
      if (message.type === "log") log.write(message.stream as LogStream, message.text);
      else if (message.type === "report") reporter.schedule(message.report);
      else if (message.type === "flush") void reporter.flush().finally(() => sandbox.send({ type: "flushed", n: message.n }));
      else {
        outcome = message.outcome;
        sandbox.done();
      }
    });
    sandbox.onGone((how, uncaught) => {
      if (uncaught !== null) log.write("stderr", `${uncaught}\n`);
      signal.removeEventListener("abort", onAbort);
      parts.letGo?.removeEventListener("abort", onLetGo);
      resolve(
        outcome ?? { kind: "failed", error: { message: `${sandbox.noun} exited (${how}) before the try ended`, stack: null, where: null }, message: null },
      );
    });
    sandbox.send({
      type: "start",
      task,
      tasksDir: config.tasksDir,
      root: config.root,
      home: config.home,
      journal: config.journal,
      lockStaleMs: config.timings.lockStaleMs,
      lockWaitMs: config.timings.lockWaitMs,
      deadline: parts.deadline,
      preload: config.preload,
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort);
  });
}
