// Entry of a sandbox that runs one try of an executor with `isolation: "process"` (a child process
// forked by its worker) or "thread" (a worker thread of it): isolate.ts. The worker keeps the try's
// log, reports and record; the sandbox only runs the executor, and says over IPC or its thread's
// port what it prints, what it reports and how it ended. Code that calls process.exit or never
// stops ends this sandbox alone; code that crashes in native code, only when it is a process.
import { parentPort } from "node:worker_threads";
import { resolveExecutor } from "../executor/discover.ts";
import { loadExecutor } from "../executor/load.ts";
import { openStore } from "../journal/open.ts";
import type { TaskReport } from "../journal/store.ts";
import { telemetryOf } from "../telemetry/otel.ts";
import { executeTry } from "./execute.ts";
import { flushTelemetry, importPreload } from "./preload.ts";
import type { FromIsolated, ToIsolated } from "./isolate.ts";
import type { Reporter } from "./reporter.ts";
import type { TaskLog } from "./task-log.ts";

const controller = new AbortController();
const flushes = new Map<number, () => void>();
let flushCount = 0;

function send(message: FromIsolated): void {
  if (parentPort) parentPort.postMessage(message);
  else process.send!(message);
}

function onMessage(message: ToIsolated): void {
  if (message.type === "abort") controller.abort(message.reason);
  else if (message.type === "flushed") flushes.get(message.n)?.();
  else void start(message);
}

if (parentPort) parentPort.on("message", onMessage);
else process.on("message", onMessage);

async function start(message: Extract<ToIsolated, { type: "start" }>): Promise<void> {
  const { task, tasksDir, root, home, journal, deadline } = message;
  // A process has it from its flags already (isolate.ts).
  if (parentPort) await importPreload(message.preload, root);
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
  // The task's trace context is its try's span, in the worker (try.ts): the executor's spans continue it.
  const outcome = await (await telemetryOf(root)).within(task.trace, () =>
    executeTry({ task, executor, output: store.taskOutput(home), root, tasksDir, signal: controller.signal, reporter, log, deadline }),
  );
  await store.close();
  await flushTelemetry(message.preload, root);
  // Timers or sockets the executor left open would keep this process, and the try, waiting; a
  // thread is ended by its worker once this message is in.
  if (parentPort) send({ type: "done", outcome });
  else process.send!({ type: "done", outcome } satisfies FromIsolated, () => process.exit(0));
}
