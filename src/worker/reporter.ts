// Coalesces what an executor reports into a bounded number of journal writes: the newest value of
// each field waits at most one interval, at most one write is in flight, and flush() before the
// try ends makes the last one land. Never rejects: a failed write is kept and tried again. The
// heartbeat is not here but in the supervisor thread, which a busy executor cannot block.
import type { JournalStore, TaskReport } from "../journal/store.ts";
import { LeaseLostError } from "../errors.ts";

/** `later` over `earlier`, field by field; attributes merge key by key. */
export function mergeReports(earlier: TaskReport | null, later: TaskReport | null): TaskReport {
  const attributes = earlier?.attributes || later?.attributes ? { attributes: { ...earlier?.attributes, ...later?.attributes } } : {};
  return { ...earlier, ...later, ...attributes };
}

export interface ReporterOptions {
  intervalMs: number;
  /** Called once when the journal says this try is no longer ours. */
  onLeaseLost(error: LeaseLostError): void;
  /** Called when a write fails for another reason; the values are kept for the next write. */
  onWriteError(error: unknown): void;
}

export class Reporter {
  private pending: TaskReport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  /** A flush is queued behind the write in flight and has not taken `pending` yet. */
  private queued = false;
  private lost = false;
  private stopped = false;
  private readonly store: JournalStore;
  private readonly taskId: string;
  private readonly lease: string;
  private readonly options: ReporterOptions;

  constructor(store: JournalStore, taskId: string, lease: string, options: ReporterOptions) {
    this.store = store;
    this.taskId = taskId;
    this.lease = lease;
    this.options = options;
  }

  get leaseLost(): boolean {
    return this.lost;
  }

  /** True while some reported value has not reached the journal. */
  get unsaved(): boolean {
    return this.pending !== null;
  }

  /** Merges `report` into what waits to be written. */
  schedule(report: TaskReport): void {
    if (this.lost || this.stopped) return;
    this.pending = mergeReports(this.pending, report);
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.options.intervalMs);
  }

  /** Writes what is pending now (after the write in flight); resolves when it has landed or failed. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.queued) {
      this.queued = true;
      this.writing = this.writing.then(() => {
        this.queued = false;
        return this.writePending();
      });
    }
    return this.writing;
  }

  private async writePending(): Promise<void> {
    const report = this.pending;
    this.pending = null;
    if (!report || this.lost) return;
    try {
      await this.store.report(this.taskId, this.lease, report, new Date());
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.lost = true;
        this.options.onLeaseLost(error);
        return;
      }
      // Keep the values (anything reported since wins) and try again one interval later.
      this.pending = mergeReports(report, this.pending);
      this.options.onWriteError(error);
      this.arm();
    }
  }

  /** No more timed writes (what an executor reports after its try ended is dropped). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
