// Ctrl-C during a command that follows tasks: it stops the following, not the tasks.

/** Runs `work` with an AbortSignal that `signals` (default: Ctrl-C) abort instead of killing the process, while it runs. */
export async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>, signals: readonly NodeJS.Signals[] = ["SIGINT"]): Promise<T> {
  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  for (const name of signals) process.on(name, onInterrupt);
  try {
    return await work(interrupt.signal);
  } finally {
    for (const name of signals) process.off(name, onInterrupt);
  }
}
