// `bgtask tick [--max-time 55s]`, for cron: one at a time (a mutex whose holder is checked by pid and
// start time, so one left by a killed tick frees itself), recover tries of dead workers, queue due
// scheduled tasks, prune by `retention`, then run due work in this process until the budget is
// near, starting no task whose timeout outlasts it. Silent unless something is wrong: cron mails output.
import type { LocationFlags } from "../../config/config.ts";
import { parseDurationFlag } from "../../core/duration.ts";
import { UsageError } from "../../errors.ts";
import { currentProcess } from "../../host/process-identity.ts";
import type { TickHolder } from "../../journal/store.ts";
import { recoverNow, takeTickMutex } from "../../worker/recovery.ts";
import { Runner } from "../../worker/runner.ts";
import { removeTaskFiles } from "../../host/home.ts";
import { startWorkerIfNeeded } from "../../worker/spawn.ts";
import { openSession, type Session } from "../session.ts";
import { outlastsTicks, outlastsTicksReason, readTickBudget, writeTickBudget } from "../tick-budget.ts";

const DEFAULT_BUDGET_MS = 55_000;

function budgetOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_BUDGET_MS;
  const budget = parseDurationFlag("--max-time", text, '"55s" or "5m"');
  if (budget < 1) throw new UsageError(`--max-time "${text}" is not a duration like "55s" or "5m"`);
  return budget;
}

/** Final tasks past `retention`, in batches: only once the oldest is a tenth of the retention overdue. */
async function prune(session: Session, now: Date): Promise<void> {
  const { config, store } = session;
  if (config.retentionMs === null) return;
  const cutoff = now.getTime() - config.retentionMs;
  const removed = await store.removeFinished(new Date(cutoff), now, { onlyIfOldestBefore: new Date(cutoff - config.retentionMs / 10) });
  removeTaskFiles(config.home, removed);
}

/**
 * Tasks whose timeout is longer than the budget never run in a tick: a worker is started for them
 * when workers are allowed; in a cron-only project each is named once on stderr (and in `status`).
 */
async function handOverTooLong(session: Session, budgetMs: number): Promise<void> {
  const { config, store } = session;
  const tooLong = (await store.list({ statuses: ["queued", "scheduled", "paused"] })).filter((t) => outlastsTicks(t, budgetMs));
  if (config.worker) {
    if (tooLong.length > 0) await startWorkerIfNeeded(config, store);
    return;
  }
  const last = readTickBudget(config.home);
  const told = new Set(last?.budgetMs === budgetMs ? last.told : []);
  for (const task of tooLong) {
    if (!told.has(task.id)) process.stderr.write(`bgtask: task ${task.id} (${task.executor}) is not run: ${outlastsTicksReason(task, budgetMs)}\n`);
  }
  const next = { budgetMs, told: tooLong.map((t) => t.id) };
  // Cron ticks every minute: no write when nothing changed.
  if (JSON.stringify(next) !== JSON.stringify(last)) writeTickBudget(config.home, next);
}

export async function tick(options: LocationFlags & { maxTime?: string }): Promise<void> {
  const budgetMs = budgetOf(options.maxTime);
  const session = await openSession(options);
  const { config, store } = session;
  const started = Date.now();
  const until = started + budgetMs;
  const holder: TickHolder = {
    process: currentProcess(),
    since: new Date(started).toISOString(),
    // Only for a holder on another host, whose process cannot be checked.
    expiresAt: new Date(until + config.timings.cancelGraceMs + config.timings.heartbeatTimeoutMs).toISOString(),
  };
  const other = await takeTickMutex(store, holder, new Date());
  if (other) {
    process.stdout.write(`bgtask: a tick is already running (pid ${other.process.pid} on ${other.process.host}, since ${other.since}); this one exits\n`);
    return;
  }
  // One try or slice per task per tick: paused and new tasks share the budget (iTop's round-robin).
  const runner = new Runner({ config, store, until, exitWhenIdle: true, oncePerTask: true });
  const onSignal = (signal: NodeJS.Signals) => runner.stop(`tick stopped (${signal})`);
  process.on("SIGTERM", onSignal).on("SIGINT", onSignal);
  // Executors run in the project root, as in a worker, wherever cron started the tick.
  process.chdir(config.root);
  try {
    await recoverNow(store, config);
    await prune(session, new Date());
    await handOverTooLong(session, budgetMs);
    await runner.run();
  } finally {
    process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
    await store.releaseTick(holder);
  }
}
