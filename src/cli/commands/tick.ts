// `bgtask tick [--max-time 55s]`, for cron: the client's tick, in this process, with executors run
// in the project root as in a worker. Silent unless something is wrong: cron mails output.
import { openSession } from "../../client/session.ts";
import { DEFAULT_TICK_BUDGET_MS, tick as runTick } from "../../client/tick.ts";
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { UsageError } from "../../errors.ts";

function budgetOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TICK_BUDGET_MS;
  const budget = parseDurationFlag("--max-time", text, '"55s" or "5m"');
  if (budget < 1) throw new UsageError(`--max-time "${text}" is not a duration like "55s" or "5m"`);
  return budget;
}

export async function tick(options: LocationFlags & { maxTime?: string }): Promise<void> {
  const budgetMs = budgetOf(options.maxTime);
  const session = await openSession(options);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => stop.abort(`tick stopped (${signal})`);
  process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  // Executors run in the project root, as in a worker, wherever cron started the tick.
  process.chdir(session.config.root);
  try {
    const result = await runTick(session, budgetMs, {
      signal: stop.signal,
      onNotRun: (task, reason) => process.stderr.write(`bgtask: task ${task.id} (${task.executor}) is not run: ${reason}\n`),
    });
    if (result.heldBy) {
      const { pid, host, since } = result.heldBy;
      process.stdout.write(`bgtask: a tick is already running (pid ${pid} on ${host}, since ${since}); this one exits\n`);
    }
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
  }
}
