// Coalesces what an executor reports into a bounded number of journal writes: the newest value of
// each field waits at most one interval, and flush() before the try ends makes the last one land.
// The heartbeat is not here but in the supervisor thread, which a busy executor cannot block.
import type { JournalStore, TaskReport } from "../journal/store.ts";
import { LeaseLostError } from "../errors.ts";

export class Reporter {
  private pending: TaskReport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private lost = false;
  private readonly store: JournalStore;
  private readonly taskId: string;
  private readonly lease: string;
  private readonly intervalMs: number;
  /** Called once when the journal says this try is no longer ours. */
  private readonly onLeaseLost: (error: LeaseLostError) => void;

  constructor(
    store: JournalStore,
    taskId: string,
    lease: string,
    intervalMs: number,
    onLeaseLost: (error: LeaseLostError) => void,
  ) {
    this.store = store;
    this.taskId = taskId;
    this.lease = lease;
    this.intervalMs = intervalMs;
    this.onLeaseLost = onLeaseLost;
  }

  get leaseLost(): boolean {
    return this.lost;
  }

  /** Merges `report` into what waits to be written; attributes merge key by key. */
  schedule(report: TaskReport): void {
    if (this.lost) return;
    const previous = this.pending ?? {};
    this.pending = {
      ...previous,
      ...report,
      ...(previous.attributes || report.attributes ? { attributes: { ...previous.attributes, ...report.attributes } } : {}),
    };
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.intervalMs);
  }

  /** Writes what is pending now; resolves when it (and any write before it) has landed. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const report = this.pending;
    this.pending = null;
    if (report && !this.lost) {
      this.writing = this.writing.then(() => this.write(report));
    }
    return this.writing;
  }

  private async write(report: TaskReport): Promise<void> {
    if (this.lost) return;
    try {
      await this.store.report(this.taskId, this.lease, report, new Date());
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.lost = true;
        this.onLeaseLost(error);
        return;
      }
      throw error;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
