// `bgtask journal copy`: every task of one journal, with its history, log and attachments, and the
// journal's paused queues and schedule states, written into another (a folder or PostgreSQL, either
// way, or another schema). Nothing is written while a worker may still change the source or use
// the destination, nor into a destination that already has one of the ids: those refusals come
// before the first write. Records go in one transaction, then each task's log and attachments.
import { resolve } from "node:path";
import { loadConfig, type LocationFlags } from "../config/config.ts";
import type { TaskRecord } from "../core/task.ts";
import { isReservationExpired } from "../core/workers.ts";
import { BgtaskError, ExitCode, UsageError } from "../errors.ts";
import { liveness } from "../host/process-identity.ts";
import { journalKind, shownLocation } from "../journal/open.ts";
import type { JournalStore } from "../journal/store.ts";
import type { TaskOutput } from "../journal/task-output.ts";
import { openStore } from "./session.ts";

export interface JournalCopyOptions extends LocationFlags {
  from?: string;
  to?: string;
  /** Called once the records are in, then after each task's log and attachments: the long part of a large copy. */
  onProgress?: (copied: number, total: number) => void;
}

export interface JournalCopyResult {
  from: string;
  to: string;
  tasks: number;
  /** Tasks whose log was copied, and its bytes. */
  logs: number;
  logBytes: number;
  attachments: number;
  attachmentBytes: number;
  pausedQueues: string[];
  schedules: number;
}

interface Side {
  location: string;
  store: JournalStore;
  output: TaskOutput;
}

/** Where a journal folder's logs and attachments are: the project's home when it is the project's journal, else the folder itself (a home's own layout). */
function homeOf(flags: LocationFlags, folder: string, home: string): string {
  if (folder === home) return home;
  try {
    const project = loadConfig({ ...flags, journal: undefined });
    if (resolve(project.journal) === folder) return project.home;
  } catch (error) {
    if (!(error instanceof UsageError && error.code === "ENOPROJECT")) throw error;
  }
  return folder;
}

/** A journal named by --from or --to, resolved as --journal is (a relative folder is the project root's). */
async function openSide(flags: LocationFlags, location: string): Promise<Side> {
  const config = loadConfig({ ...flags, journal: location });
  const store = await openStore(config);
  if (journalKind(config.journal) === "postgres") return { location: shownLocation(config.journal), store, output: store.taskOutput(config.home) };
  return { location: store.location, store, output: store.taskOutput(homeOf(flags, resolve(config.journal), config.home)) };
}

/** Refuses, changing nothing, while a worker that may be alive holds a slot of `side` (or, on the source, a task is running). */
async function refuseIfBusy(side: Side, role: "source" | "destination", running: readonly TaskRecord[]): Promise<void> {
  const now = new Date();
  const live = (await side.store.workerSlots()).filter((slot) => (slot.process ? liveness(slot.process) !== "dead" : !isReservationExpired(slot, now)));
  if (live.length === 0 && running.length === 0) return;
  const what =
    live.length > 0
      ? `${live.length} worker(s) may still be running on it`
      : `task ${running[0]!.id} is running there, its worker gone: \`bgtask tick\` recovers it`;
  throw new BgtaskError(
    "EJOURNALBUSY",
    `the ${role} journal ${side.location} is in use (${what}); stop its workers (and let running tasks end) before copying. Nothing was copied`,
    { exitCode: ExitCode.problemFound },
  );
}

export async function copyJournal(options: JournalCopyOptions): Promise<JournalCopyResult> {
  if (!options.from || !options.to) throw new UsageError("journal copy needs both --from JOURNAL and --to JOURNAL (a folder or a postgres:// URL)");
  const from = await openSide(options, options.from);
  const sides = [from];
  try {
    const to = await openSide(options, options.to);
    sides.push(to);
    if (from.location === to.location) throw new UsageError(`--from and --to name the same journal (${from.location}): nothing to copy`);
    const tasks = await from.store.list({});
    await refuseIfBusy(
      from,
      "source",
      tasks.filter((t) => t.status === "running"),
    );
    await refuseIfBusy(to, "destination", []);
    // Every attachment is looked up before anything is written: one missing, nothing copied.
    const stored = new Map<TaskRecord, Awaited<ReturnType<TaskOutput["openAttachment"]>>[]>();
    for (const task of tasks) stored.set(task, await Promise.all(task.attachments.map((a) => from.output.openAttachment(task.id, a))));
    const moved = tasks.map((task) => ({ ...task, attachments: task.attachments.map((a) => ({ ...a, path: to.output.attachmentPath(task.id, a.name) })) }));
    const pausedQueues = await from.store.pausedQueues();
    const schedules = await from.store.scheduleStates();
    const counters = await from.store.counters();
    const { clashes } = await to.store.importTasks({ tasks: moved, pausedQueues, schedules, counters });
    if (clashes.length > 0) {
      const shown = clashes.slice(0, 5).join(", ") + (clashes.length > 5 ? ` and ${clashes.length - 5} more` : "");
      throw new BgtaskError(
        "EJOURNALCLASH",
        `the destination journal ${to.location} already has task${clashes.length === 1 ? "" : "s"} ${shown}; copy into a journal without those ids (a new one, or another ?schema=). Nothing was copied`,
        { exitCode: ExitCode.problemFound },
      );
    }
    const result: JournalCopyResult = {
      from: from.location,
      to: to.location,
      tasks: tasks.length,
      logs: 0,
      logBytes: 0,
      attachments: 0,
      attachmentBytes: 0,
      pausedQueues,
      schedules: Object.keys(schedules).length,
    };
    options.onProgress?.(0, tasks.length);
    for (const [index, task] of tasks.entries()) {
      const writer = to.output.logWriter(task.id);
      let bytes = 0;
      try {
        // Whole lines, as the reader hands them over; a PostgreSQL writer cuts them into its rows.
        await from.output.logReader(task.id).readNew(async (text) => {
          await writer.append(text);
          bytes += Buffer.byteLength(text);
        });
      } finally {
        writer.close();
      }
      if (bytes > 0) {
        result.logs += 1;
        result.logBytes += bytes;
      }
      for (const attachment of stored.get(task)!) {
        await to.output.putAttachment(task.id, attachment.name, { chunks: attachment.open() });
        result.attachments += 1;
        result.attachmentBytes += attachment.size;
      }
      options.onProgress?.(index + 1, tasks.length);
    }
    return result;
  } finally {
    await Promise.all(sides.map((side) => side.store.close()));
  }
}
