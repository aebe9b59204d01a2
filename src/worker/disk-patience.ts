// A worker's patience with a full disk: its journal writes that fail for want of space (ENOSPC,
// EDQUOT) are tried again with backoff for up to the disk wait, so a try is kept, not failed as
// "the worker died", when the disk was full for a minute. The same goes for a journal lock that one
// live process has held past the lock wait (a bulk enqueue into a deep queue): a command gives up
// and says so, a worker waits on. A PostgreSQL journal that cannot be reached or refuses (down, out
// of disk space or connections, read-only) is waited for as long as the worker is not stopped:
// nobody else would start the backlog again once it is back. Any other error passes through at once.
import { setTimeout as delay } from "node:timers/promises";
import { isNoSpace, JournalLockedError, JournalOutcomeUnknownError, JournalUnavailableError } from "../errors.ts";
import type { JournalStore } from "../journal/store.ts";
import { workerSay } from "./worker-log.ts";

export interface DiskPatience {
  /** How long one write keeps being retried (BGTASK_DISK_WAIT). */
  waitMs: number;
  /** Once aborted, a write waits no more: its last error is raised (the worker is being stopped). */
  signal?: AbortSignal;
  /** False before the worker holds anything (opening the journal): its log then does not speak of a try. */
  holding?: boolean;
}

const FIRST_PAUSE_MS = 100;
const MAX_PAUSE_MS = 5_000;
/** While the disk stays full the worker log says so again this often (if it can be written at all). */
const REMIND_EVERY_MS = 60_000;

/**
 * The store's methods called as they are: the ones that return no promise, and releaseWorker (on
 * exit a slot left behind is pruned as dead). Every other operation, reads too, is patient: a
 * read that fails while the database is down would end the worker as surely as a write.
 */
const IMPATIENT: ReadonlySet<PropertyKey> = new Set<keyof JournalStore>(["watchChanges", "taskOutput", "close", "releaseWorker"]);

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

/** The first sentence of an error's message: journal errors go on to say what a person should do. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const end = message.indexOf("; ");
  return end === -1 ? message : message.slice(0, end);
}

/**
 * A journal held by a live process, or a database down or restarting: it passes. A write whose commit
 * was cut off is tried again as well: if it was made, its leases are gone and the worker stops, as
 * one presumed dead does; nothing runs twice.
 */
function isPassing(error: unknown): boolean {
  return error instanceof JournalLockedError || isDatabaseAway(error);
}

function isDatabaseAway(error: unknown): boolean {
  return error instanceof JournalUnavailableError || error instanceof JournalOutcomeUnknownError;
}

/** Runs `write`, again and again while it fails for want of disk space, for up to `patience.waitMs`. */
export async function withDiskPatience<T>(what: string, write: () => Promise<T>, patience: DiskPatience): Promise<T> {
  let since: number | null = null;
  let saidAt = -Infinity;
  let pauseMs = FIRST_PAUSE_MS;
  for (;;) {
    try {
      const result = await write();
      if (since !== null) workerSay(`the journal could be written again after ${seconds(Date.now() - since)} (${what})`);
      return result;
    } catch (error) {
      if (!isNoSpace(error) && !isPassing(error)) throw error;
      const now = Date.now();
      since ??= now;
      const unbounded = isDatabaseAway(error);
      const giveUpAt = unbounded ? Number.POSITIVE_INFINITY : since + patience.waitMs;
      if (now >= giveUpAt || patience.signal?.aborted) {
        workerSay(`${reasonOf(error)}: gave up on the journal operation (${what}) after ${seconds(now - since)}`);
        throw error;
      }
      if (now - saidAt >= REMIND_EVERY_MS) {
        const still = saidAt === -Infinity ? "" : `still, after ${seconds(now - since)}: `;
        const until = unbounded ? "until the database takes it" : `for up to ${seconds(patience.waitMs)}`;
        const keeps = patience.holding === false ? "" : "the running task keeps its try and ";
        workerSay(`${still}${reasonOf(error)}; ${keeps}the journal operation (${what}) is retried ${until}`);
        saidAt = now;
      }
      try {
        await delay(Math.min(pauseMs * (0.5 + Math.random()), giveUpAt - now), undefined, { signal: patience.signal });
      } catch {
        // stopped while waiting: the loop raises the write's error
      }
      pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
    }
  }
}

/** `store` with its operations made patient (see withDiskPatience and IMPATIENT). */
export function patientStore(store: JournalStore, patience: DiskPatience): JournalStore {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      if (IMPATIENT.has(property)) return method.bind(target);
      return (...args: unknown[]) => withDiskPatience(String(property), () => method.apply(target, args), patience);
    },
  });
}
