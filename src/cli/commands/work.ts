// `bgtask work [--concurrency N] [--workers N] [--once] [--executor NAME…]`: the client's foreground workers,
// until they are done (--once) or stopped; SIGTERM and Ctrl-C each stop them once.
import { openSession } from "../../client/session.ts";
import { work as startWork } from "../../client/work.ts";
import type { LocationFlags } from "../../config/config.ts";
import { UsageError } from "../../errors.ts";
import { sanitizeInline } from "../output/sanitize.ts";

export interface WorkCommandOptions extends LocationFlags {
  concurrency?: string;
  workers?: string;
  once?: boolean;
  executor?: string[];
}

function wholeNumber(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${flag} "${text}" is not a whole number from 1 to ${max}`);
  return Number(text);
}

export async function work(options: WorkCommandOptions): Promise<void> {
  const session = await openSession(options);
  const handle = startWork(session, {
    concurrency: wholeNumber("--concurrency", options.concurrency, session.config.concurrency, 10_000),
    // A --concurrency below the config's workers is fewer workers, not fewer tasks at once.
    workers: wholeNumber("--workers", options.workers, session.config.workers, 256),
    once: options.once === true,
    executors: (options.executor ?? []).flatMap((names) => names.split(",")).filter((name) => name !== ""),
    onExit: ({ pid, code, signal, failed, delayMs }) =>
      process.stderr.write(
        `bgtask: worker ${pid} ${failed === null ? `exited (${signal ?? `code ${code}`})` : `failed: ${failed.includes("\n") ? failed : sanitizeInline(failed)}`}; starting another in ${(delayMs / 1000).toFixed(1)}s\n`,
      ),
  });
  const onSignal = () => handle.stop();
  process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  try {
    process.exitCode = await handle.done;
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
    await session.store.close();
  }
}
