// Fires the config's schedules from a worker or a tick: the task each slot makes (the executor's
// settings applied as `run` applies them), handed to the store's fireSchedules, which decides
// under its transaction which slots are due. This side only paces the asking: once at the start,
// then at each next slot. A worker may stay up for days for its schedules, so it rereads them
// when bgtask.config.json changes.
import { statSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_FILE, loadConfig, type Config } from "../config/config.ts";
import { queueSettings, taskDefaults } from "../config/task-defaults.ts";
import { nextSlotOf, type Schedule } from "../core/schedule.ts";
import type { TaskRecord } from "../core/task.ts";
import { resolveExecutor } from "../executor/discover.ts";
import { executorSettings, type ExecutorSettings } from "../executor/settings-cache.ts";
import type { JournalStore, ScheduleFiring } from "../journal/store.ts";
import { telemetryOf } from "../telemetry/otel.ts";
import { workerSay } from "./worker-log.ts";

/** Whether a schedule has a slot within the window: a worker is wanted for it (it sleeps until then). */
export function isScheduleDueWithin(config: Config, now: Date, windowMs: number): boolean {
  const next = nextSlotOf(config.schedules, now);
  return next !== null && next - now.getTime() <= windowMs;
}

/** How often a worker whose schedules were all removed (or whose config broke) looks at the file again. */
const RELOAD_POLL_MS = 5_000;

const UNLOADED: ExecutorSettings = { retry: null, timeoutMs: null, priority: null, concurrency: null, serialKeyOf: () => null };

function stampOf(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
  } catch {
    return "absent";
  }
}

export class ScheduleFirer {
  private config: Config;
  private readonly store: JournalStore;
  private readonly configPath: string;
  private configStamp: string;
  private firings: Promise<ScheduleFiring[]> | null = null;
  /** When to ask again (epoch ms): the earliest next slot after the last asking; 0 until the first. */
  private askAt = 0;
  /** Whether this process fires at all: its config had schedules when it started. */
  private readonly watching: boolean;

  constructor(config: Config, store: JournalStore) {
    this.config = config;
    this.watching = config.schedules.length > 0;
    this.store = store;
    this.configPath = join(config.root, CONFIG_FILE);
    this.configStamp = stampOf(this.configPath);
  }

  private get schedules(): readonly Schedule[] {
    return this.config.schedules;
  }

  /** When the next slot is due (epoch ms), or null without schedules. */
  get nextAt(): number | null {
    return this.schedules.length === 0 ? null : this.askAt;
  }

  /** Fires the slots due now, if one may be; returns the tasks made (usually none). */
  async fireDue(): Promise<TaskRecord[]> {
    if (!this.watching || Date.now() < this.askAt) return [];
    this.reloadIfChanged();
    if (this.schedules.length === 0) {
      this.askAt = Date.now() + RELOAD_POLL_MS;
      return [];
    }
    const now = new Date();
    this.firings ??= this.buildFirings();
    const firings = await this.firings;
    // A send span per schedule, its context stored with the tasks its slots make; exported only when it made some.
    const telemetry = await telemetryOf(this.config.root);
    const sends = firings.map((firing) => telemetry.sendMaybe(firing.task.executor));
    const traced = firings.map((firing, i) => (sends[i]!.trace ? { ...firing, task: { ...firing.task, trace: sends[i]!.trace } } : firing));
    const created = await this.store.fireSchedules({ firings: traced, onTimeMs: this.config.timings.scheduleOnTimeMs }, now);
    firings.forEach((firing, i) => {
      const made = created.filter((task) => task.schedule?.name === firing.schedule.name).map((task) => task.id);
      if (made.length > 0) sends[i]!.end(made);
    });
    this.askAt = nextSlotOf(this.schedules, now) ?? Number.POSITIVE_INFINITY;
    return created;
  }

  /**
   * The schedules as bgtask.config.json holds them now, when it changed since they were read (with
   * the same locations). A file that no longer loads fires nothing until it does again.
   */
  private reloadIfChanged(): void {
    const stamp = stampOf(this.configPath);
    if (stamp === this.configStamp) return;
    this.configStamp = stamp;
    this.firings = null;
    const { root, tasksDir, home, journal } = this.config;
    try {
      this.config = { ...this.config, schedules: loadConfig({ root, tasks: tasksDir, home, journal }).schedules };
    } catch (error) {
      workerSay(`${CONFIG_FILE} changed and cannot be read (${(error as Error).message}); no schedule fires until it can`);
      this.config = { ...this.config, schedules: [] };
    }
  }

  private async buildFirings(): Promise<ScheduleFiring[]> {
    const { config } = this;
    const firings: ScheduleFiring[] = [];
    for (const schedule of config.schedules) {
      // An executor that fails to load still gets its slots' tasks: their tries say why it failed, as `status` shows.
      const settings = await (async () => executorSettings(resolveExecutor(config.tasksDir, schedule.executor), config.home))().catch(() => UNLOADED);
      const defaults = taskDefaults(settings, config);
      const queue = queueSettings(settings, config.executors[schedule.executor]);
      firings.push({
        schedule,
        task: {
          executor: schedule.executor,
          context: schedule.context,
          serialKey: settings.serialKeyOf(schedule.context),
          retry: defaults.retry,
          timeoutMs: defaults.timeoutMs,
          priority: queue.priority,
          concurrency: queue.concurrency,
        },
      });
    }
    return firings;
  }
}
