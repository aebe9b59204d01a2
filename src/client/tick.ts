// One tick, for cron: one at a time (a mutex whose holder is checked by pid and start time, so one
// left by a killed tick frees itself), recover tries of dead workers, queue due scheduled tasks,
// prune by `retention`, fire due schedules (the runner does), then run due work in this process until the budget is near, starting no
// task whose timeout outlasts it.
import { tickMutexName } from "../core/recovery.ts";
import type { TaskRecord } from "../core/task.ts";
import { currentProcess } from "../host/process-identity.ts";
import type { TickHolder } from "../journal/store.ts";
import { recoverNow, takeTickMutex } from "../worker/recovery.ts";
import { flushTelemetry, importPreload } from "../worker/preload.ts";
import { Runner } from "../worker/runner.ts";
import { startWorkersIfNeeded } from "../worker/spawn.ts";
import type { Session } from "./session.ts";
import { outlastsTicks, outlastsTicksReason, readTickBudget, writeTickBudget } from "./tick-budget.ts";

export const DEFAULT_TICK_BUDGET_MS = 55_000;

export interface TickResult {
  /** The tick that held the mutex, so this one did nothing; null when this one ran. */
  heldBy: { pid: number; host: string; since: string } | null;
  /** In a cron-only project: waiting tasks whose timeout outlasts the budget, named by no tick before, and why none runs them. */
  notRun: Array<{ task: TaskRecord; reason: string }>;
}

/** Final tasks past `retention`, in batches: only once the oldest is a tenth of the retention overdue. */
async function prune(session: Session, now: Date): Promise<void> {
  const { config, store } = session;
  if (config.retentionMs === null) return;
  const cutoff = now.getTime() - config.retentionMs;
  const removed = await store.removeFinished(new Date(cutoff), now, { onlyIfOldestBefore: new Date(cutoff - config.retentionMs / 10) });
  store.taskOutput(config.home).removeTasks(removed);
}

/**
 * Tasks whose timeout is longer than the budget never run in a tick: a worker is started for them
 * when workers are allowed; in a cron-only project each is named once (and by `status`).
 */
async function handOverTooLong(session: Session, budgetMs: number): Promise<TickResult["notRun"]> {
  const { config, store } = session;
  const tooLong = (await store.list({ statuses: ["queued", "scheduled", "paused"] })).filter((t) => outlastsTicks(t, budgetMs));
  if (config.worker) {
    if (tooLong.length > 0) await startWorkersIfNeeded(config, store);
    return [];
  }
  const last = readTickBudget(config.home);
  const told = new Set(last?.budgetMs === budgetMs ? last.told : []);
  const next = { budgetMs, told: tooLong.map((t) => t.id) };
  // Cron ticks every minute: no write when nothing changed.
  if (JSON.stringify(next) !== JSON.stringify(last)) writeTickBudget(config.home, next);
  return tooLong.filter((task) => !told.has(task.id)).map((task) => ({ task, reason: outlastsTicksReason(task, budgetMs) }));
}

export interface TickOptions {
  /** Stops the tick early: the running try is asked to stop, as a worker's is. */
  signal?: AbortSignal;
  /** Told of each task in `notRun` before the tick runs anything (cron mails what a tick prints, even a killed one's). */
  onNotRun?(task: TaskRecord, reason: string): void;
}

export async function tick(session: Session, budgetMs: number, options: TickOptions = {}): Promise<TickResult> {
  const { signal } = options;
  const { config, store } = session;
  const started = Date.now();
  const until = started + budgetMs;
  const holder: TickHolder = {
    process: currentProcess(),
    since: new Date(started).toISOString(),
    // Only for a holder on another host, whose process cannot be checked.
    expiresAt: new Date(until + config.timings.cancelGraceMs + config.timings.heartbeatTimeoutMs).toISOString(),
  };
  const mutex = tickMutexName(config.tickScope, holder.process.host);
  const other = await takeTickMutex(store, mutex, holder, new Date());
  if (other) return { heldBy: { pid: other.process.pid, host: other.process.host, since: other.since }, notRun: [] };
  await importPreload(config.preload, config.root);
  // One try or slice per task per tick: paused and new tasks share the budget (iTop's round-robin).
  const runner = new Runner({ config, store, until, exitWhenIdle: true, oncePerTask: true });
  const onAbort = () => runner.stop(String(signal!.reason));
  signal?.addEventListener("abort", onAbort);
  try {
    await recoverNow(store, config);
    await prune(session, new Date());
    const notRun = await handOverTooLong(session, budgetMs);
    // A schedule due within the window gets a worker that sleeps until its slot, so it fires on time between ticks.
    if (config.worker && config.schedules.length > 0) await startWorkersIfNeeded(config, store);
    for (const { task, reason } of notRun) options.onNotRun?.(task, reason);
    await runner.run();
    return { heldBy: null, notRun };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await store.releaseTick(mutex, holder);
    await flushTelemetry(config.preload, config.root);
  }
}
