// Routes what an executor prints to its task's log while it runs. The worker runs one task at a
// time in its own process, so patching process.stdout/stderr for the length of a try is safe.
// (Output of child processes started with stdio "inherit" goes to the worker log instead.)
import type { TaskLog } from "./task-log.ts";

type Write = typeof process.stdout.write;

export function captureOutput(log: TaskLog): () => void {
  const originals: Array<[NodeJS.WriteStream, Write]> = [
    [process.stdout, process.stdout.write],
    [process.stderr, process.stderr.write],
  ];
  for (const [stream] of originals) {
    const name = stream === process.stdout ? "stdout" : "stderr";
    stream.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      log.write(name, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      const done = typeof encoding === "function" ? encoding : callback;
      if (typeof done === "function") queueMicrotask(() => (done as () => void)());
      return true;
    }) as Write;
  }
  return () => {
    for (const [stream, write] of originals) stream.write = write;
  };
}
