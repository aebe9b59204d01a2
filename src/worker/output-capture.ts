// Routes what an executor prints to its task's log while it runs. A worker runs many tries at once
// in one event loop, so process.stdout/stderr are patched once, for good, and each write goes to
// the log of the try whose code made it: AsyncLocalStorage follows a try through its awaits,
// timers and callbacks. Writes made outside any try (the worker's own) go where they went.
// (Output of child processes started with stdio "inherit" goes to the worker log instead.)
import { AsyncLocalStorage } from "node:async_hooks";
import type { TaskLog } from "./task-log.ts";

type Write = typeof process.stdout.write;

const current = new AsyncLocalStorage<TaskLog>();
let patched = false;

function patch(): void {
  patched = true;
  for (const stream of [process.stdout, process.stderr]) {
    const name = stream === process.stdout ? "stdout" : "stderr";
    const original = stream.write.bind(stream) as Write;
    stream.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      const log = current.getStore();
      if (log === undefined) return (original as (...args: unknown[]) => boolean)(chunk, encoding, callback);
      log.write(name, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") queueMicrotask(() => (done as () => void)());
      return true;
    }) as Write;
  }
}

/** Runs `body` with what it (and all it starts) prints going to `log`. */
export function withOutputTo<T>(log: TaskLog, body: () => T): T {
  if (!patched) patch();
  return current.run(log, body);
}
