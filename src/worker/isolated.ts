// Entry of a child process that runs one try of an executor with `isolation: "process"`, forked by
// its worker (isolate.ts). The worker keeps the try's log, reports and record; this process only
// runs the executor, and says over IPC what it prints, what it reports and how it ended. Code that
// calls process.exit, crashes in native code or never stops takes down this process alone.
import { resolveExecutor } from "../executor/discover.ts";
import { loadExecutor } from "../executor/load.ts";
import { openStore } from "../journal/open.ts";
import type { TaskReport } from "../journal/store.ts";
import { executeTry } from "./execute.ts";
import type { FromIsolated, ToIsolated } from "./isolate.ts";
import type { Reporter } from "./reporter.ts";
import type { TaskLog } from "./task-log.ts";

const controller = new AbortController();
const flushes = new Map<number, () => void>();
let flushCount = 0;

function send(message: FromIsolated): void {
  process.send!(message);
}

process.on("message", (message: ToIsolated) => {
  if (message.type === "abort") controller.abort(message.reason);
  else if (message.type === "flushed") flushes.get(message.n)?.();
  else void start(message);
});

async function start(message: Extract<ToIsolated, { type: "start" }>): Promise<void> {
  const { task, tasksDir, root, home, journal, deadline } = message;
  const store = await openStore(journal, { staleMs: message.lockStaleMs, waitMs: message.lockWaitMs });
  const executor = await loadExecutor(resolveExecutor(tasksDir, task.executor), home);
  // What the executor's API needs of a log and a reporter, carried to the worker.
  const log = { write: (stream: string, text: string) => send({ type: "log", stream, text }) } as unknown as TaskLog;
  const reporter = {
    schedule: (report: TaskReport) => send({ type: "report", report }),
    flush: () =>
      new Promise<void>((resolve) => {
        const n = ++flushCount;
        flushes.set(n, resolve);
        send({ type: "flush", n });
      }),
  } as unknown as Reporter;
  const outcome = await executeTry({ task, executor, output: store.taskOutput(home), root, tasksDir, signal: controller.signal, reporter, log, deadline });
  await store.close();
  // Timers or sockets the executor left open would keep this process, and the try, waiting.
  process.send!({ type: "done", outcome } satisfies FromIsolated, () => process.exit(0));
}
