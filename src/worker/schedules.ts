// Fires the config's schedules from a worker or a tick: the task each slot makes (the executor's
// settings applied as `run` applies them), handed to the store's fireSchedules, which decides
// under its transaction which slots are due. This side only paces the asking: once at the start,
// then at each next slot.
import type { Config } from "../config/config.ts";
import { taskDefaults } from "../config/task-defaults.ts";
import { nextSlotOf } from "../core/schedule.ts";
import type { TaskRecord } from "../core/task.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { executorSettings, type ExecutorSettings } from "../executor/settings-cache.ts";
import type { JournalStore, ScheduleFiring } from "../journal/store.ts";

/** Whether a schedule has a slot within the window: a worker is wanted for it (it sleeps until then). */
export function isScheduleDueWithin(config: Config, now: Date, windowMs: number): boolean {
  const next = nextSlotOf(config.schedules, now);
  return next !== null && next - now.getTime() <= windowMs;
}

const UNLOADED: ExecutorSettings = { retry: null, timeoutMs: null, serialKeyOf: () => null };

export class ScheduleFirer {
  private readonly config: Config;
  private readonly store: JournalStore;
  private firings: Promise<ScheduleFiring[]> | null = null;
  /** When to ask again (epoch ms): the earliest next slot after the last asking; 0 until the first. */
  private askAt = 0;

  constructor(config: Config, store: JournalStore) {
    this.config = config;
    this.store = store;
  }

  /** When the next slot is due (epoch ms), or null without schedules. */
  get nextAt(): number | null {
    return this.config.schedules.length === 0 ? null : this.askAt;
  }

  /** Fires the slots due now, if one may be; returns the tasks made (usually none). */
  async fireDue(): Promise<TaskRecord[]> {
    if (this.config.schedules.length === 0 || Date.now() < this.askAt) return [];
    const now = new Date();
    this.firings ??= this.buildFirings();
    const created = await this.store.fireSchedules({ firings: await this.firings, onTimeMs: this.config.timings.scheduleOnTimeMs }, now);
    this.askAt = nextSlotOf(this.config.schedules, now) ?? Number.POSITIVE_INFINITY;
    return created;
  }

  private async buildFirings(): Promise<ScheduleFiring[]> {
    const { config } = this;
    const firings: ScheduleFiring[] = [];
    for (const schedule of config.schedules) {
      // An executor that fails to load still gets its slots' tasks: their tries say why it failed, as `status` shows.
      const settings = await executorSettings(resolveExecutor(config.tasksDir, schedule.executor), config.home).catch(() => UNLOADED);
      const defaults = taskDefaults(settings, config);
      firings.push({
        schedule,
        task: {
          executor: schedule.executor,
          context: schedule.context,
          serialKey: settings.serialKeyOf(schedule.context),
          retry: defaults.retry,
          timeoutMs: defaults.timeoutMs,
        },
      });
    }
    return firings;
  }
}
