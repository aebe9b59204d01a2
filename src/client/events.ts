// The event feed behind `bgtask events` and the client's events(): the journal's events after a
// cursor, a page at a time, and with `follow` on and on, read again when the journal changed
// (watchJournal) and never ending on an idle queue. It only reads: events are the stores' own.
import type { TaskEvent } from "../core/events.ts";
import { watchJournal } from "./follow.ts";
import type { Session } from "./session.ts";

/** Events read at once: a feed resumed after days reads the backlog in pieces, not in one answer. */
export const EVENT_PAGE = 1_000;
/**
 * A follow reads again this often even when no change was told: a notice can be lost (a worker
 * killed before it sent the notice it held back, a folder watch that missed a rename), and an
 * idle queue brings no next notice to make up for it.
 */
const FALLBACK_POLL_MS = 5_000;

export interface EventFeedOptions {
  /** Start after the event with this cursor; null or left out: from the oldest event kept. */
  since?: string | null;
  /** Keep reading as new events are written, until `signal` ends it. */
  follow?: boolean;
  /** Ends the feed: the generator returns once its read in progress is done. */
  signal?: AbortSignal;
}

/**
 * The events after `since`, oldest first, in pages of at most EVENT_PAGE; without `follow` it
 * ends at the newest event kept. A cursor the journal did not make rejects with a UsageError
 * (code EBADCURSOR) before any page.
 */
export async function* eventPages(session: Session, options: EventFeedOptions = {}): AsyncGenerator<TaskEvent[], void, undefined> {
  const { follow = false, signal } = options;
  let cursor = options.since ?? null;
  let changed = false;
  let wake: (() => void) | null = null;
  const notice = () => {
    changed = true;
    wake?.();
  };
  // Listening before the first read: what is written between that read and the wait is told.
  const changes = follow ? watchJournal(session, notice) : null;
  const poll = follow ? setInterval(notice, FALLBACK_POLL_MS) : null;
  signal?.addEventListener("abort", notice);
  try {
    for (;;) {
      changed = false;
      for (;;) {
        if (signal?.aborted) return;
        const page = await session.store.events(cursor, EVENT_PAGE);
        if (page.length === 0) break;
        cursor = page[page.length - 1]!.cursor;
        yield page;
        if (page.length < EVENT_PAGE) break;
      }
      if (!follow || signal?.aborted) return;
      if (!changed) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    changes?.close();
    if (poll) clearInterval(poll);
    signal?.removeEventListener("abort", notice);
  }
}

/** eventPages, an event at a time: the client's events(). */
export async function* eventFeed(session: Session, options: EventFeedOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
  for await (const page of eventPages(session, options)) yield* page;
}
