// Ctrl-C during a command that follows tasks: it stops the following, not the tasks.

/** Runs `work` with a signal that Ctrl-C aborts (instead of killing the process), while it runs. */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  process.on("SIGINT", onInterrupt);
  try {
    return await work(interrupt.signal);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}
