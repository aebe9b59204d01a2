// A task's log as its worker writes it: what the try printed on stdout/stderr and logged with
// task.log, every try marked, every line timestamped (format in core/log-line.ts), handed to the
// journal's task output (journal/task-output.ts): line by line where that is a file, in batches
// where each write is a round trip (PostgreSQL), and always all of it before the try is settled.
// A write that fails (a full disk, a database out of reach) never reaches the executor or the
// worker: its lines are dropped, and the log says how many were once it can be written again.
import { writeSync } from "node:fs";
import { formatLogLine, type LogStream } from "../core/log-line.ts";
import { lostLinesNote } from "../core/task-output.ts";
import type { LogWriter, TaskOutput } from "../journal/task-output.ts";
import { workerSay } from "./worker-log.ts";

/** Past this many bytes waiting for a batch that cannot be written yet, new lines are dropped (and counted). */
const MAX_WAITING_BYTES = 4 * 1024 * 1024;

/** Whether every line is also written to this process's stdout (`bgtask work`, on a terminal). */
let echo = false;

/** Makes every task log line also appear on stdout, prefixed with its task: the foreground worker's view. */
export function echoTaskLines(): void {
  echo = true;
}

export class TaskLog {
  private readonly writer: LogWriter;
  private readonly batch: TaskOutput["logBatch"];
  private readonly tryNumber: number;
  private readonly partial = new Map<LogStream, string>();
  private readonly taskId: string;
  /** Lines dropped since the last ones that could be written, and why the first of them was. */
  private lost: { lines: number; reason: string } | null = null;
  /** Batched: lines not handed over yet, and the write under way. */
  private waiting: string[] = [];
  private waitingBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(output: TaskOutput, taskId: string, tryNumber: number) {
    this.writer = output.logWriter(taskId);
    this.batch = output.logBatch;
    this.taskId = taskId;
    this.tryNumber = tryNumber;
  }

  /** Appends whole lines; a chunk without a final newline waits for the rest of its line. */
  write(stream: LogStream, text: string): void {
    const buffered = (this.partial.get(stream) ?? "") + text;
    const lines = buffered.split("\n");
    this.partial.set(stream, lines.pop()!);
    for (const line of lines) this.line(stream, line);
  }

  private line(stream: LogStream, text: string): void {
    const line = formatLogLine(new Date(), this.tryNumber, stream, text);
    if (echo) {
      try {
        writeSync(1, `task ${this.taskId} ${line}`);
      } catch {
        // the terminal went away: the log still has the line
      }
    }
    if (this.batch === null) {
      this.writeNow(line);
      return;
    }
    if (this.waitingBytes >= MAX_WAITING_BYTES) {
      this.dropped(1, "the journal did not take the log's lines as fast as they came");
      return;
    }
    this.waiting.push(line);
    this.waitingBytes += line.length;
    if (this.waitingBytes >= this.batch.bytes) void this.flush();
    else if (this.timer === null && this.flushing === null) {
      this.timer = setTimeout(() => void this.flush(), this.batch.ms);
      this.timer.unref();
    }
  }

  /** The note about lines dropped before, to write ahead of the next ones. */
  private lostNote(): string {
    return this.lost ? formatLogLine(new Date(), this.tryNumber, "bgtask", lostLinesNote(this.lost.lines, this.lost.reason)) : "";
  }

  private dropped(lines: number, reason: string): void {
    if (!this.lost) {
      workerSay(`task ${this.taskId}: its log cannot be written (${reason}); lines are dropped until it can`);
      this.lost = { lines: 0, reason };
    }
    this.lost.lines += lines;
  }

  private writeNow(line: string): void {
    try {
      if (this.lost) {
        this.writer.append(this.lostNote());
        this.lost = null;
      }
      this.writer.append(line);
    } catch (error) {
      this.dropped(1, (error as Error).message);
    }
  }

  /** Hands over every line waiting, one write at a time; resolves once none waits. */
  private flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.flushing === null) {
      const run = async () => {
        while (this.waiting.length > 0) {
          const lines = this.waiting;
          this.waiting = [];
          this.waitingBytes = 0;
          const note = this.lostNote();
          try {
            await this.writer.append(note + lines.join(""));
            if (note) this.lost = null;
          } catch (error) {
            this.dropped(lines.length, (error as Error).message);
          }
        }
      };
      this.flushing = run().finally(() => {
        this.flushing = null;
        // Lines that came after the last write looked: the next batch, on time.
        if (this.waiting.length > 0 && this.timer === null) {
          this.timer = setTimeout(() => void this.flush(), this.batch!.ms);
          this.timer.unref();
        }
      });
    }
    return this.flushing;
  }

  /** Ends the lines still missing their newline. */
  endPartialLines(): void {
    for (const [stream, rest] of this.partial) if (rest) this.line(stream, rest);
    this.partial.clear();
  }

  /** Writes out unfinished lines and every line waiting: before the try is settled, so a reader that sees it final has them all. */
  async endLines(): Promise<void> {
    this.endPartialLines();
    while (this.batch !== null && (this.flushing !== null || this.waiting.length > 0)) await this.flush();
  }

  async close(): Promise<void> {
    await this.endLines();
    this.writer.close();
  }

  /**
   * Closes the log without waiting for the journal to take its last lines: for a try taken away
   * from this worker, which exits next and must not wait on a journal it may be cut off from
   * (a fenced worker). A failed write only drops lines, so nothing is left to reject.
   */
  abandon(): void {
    void this.close();
  }
}
