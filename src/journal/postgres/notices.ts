// Telling watchers what changed in a PostgreSQL journal: each transaction's NOTIFY names the ids it
// changed (a worker's hot path coalesced to one notice per NOTICE_EVERY_MS), heard by LISTEN on the
// store's own connection; log appends notify a channel of their own. Without LISTEN (`?listen=off`,
// or refused by a pooler) watchers are told "anything may have changed" every POLL_MS instead.
import type pg from "pg";
import type { ChangeListener } from "../store.ts";
import type { ConnectionEvents, PgConnection } from "./connection.ts";
import { isConnectionError } from "./connection.ts";
import { quoteIdent } from "./schema.ts";

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (failing the transaction): a longer list of ids says "anything may have changed". */
const NOTIFY_MAX_BYTES = 7_999;
/**
 * A worker's exchanges and reports (the hot path: one per task in a drain) send at most one notice
 * this often per store; the ids of the ones in between go in the next, sent when this has passed.
 * Commands (run, cancel, retry) notify at once: an idle worker claims a new task without waiting.
 */
const NOTICE_EVERY_MS = 50;
/** Without LISTEN (`?listen=off`, or refused), watchers are told "anything may have changed" this often. */
const POLL_MS = 1_000;

export class PgNotices implements ConnectionEvents {
  readonly channel: string;
  readonly logChannel: string;
  private readonly listenAtAll: boolean;
  private db: PgConnection | null = null;
  private readonly listeners = new Set<ChangeListener>();
  /** Ids changed by coalesced transactions and not yet in a notice (see payload). */
  private readonly heldBack = new Set<string>();
  private noticeTimer: NodeJS.Timeout | null = null;
  private lastNoticeAt = Number.NEGATIVE_INFINITY;
  /** Set once watchers are told by polling instead of NOTIFY (see listen). */
  private polling: NodeJS.Timeout | null = null;
  /** Who follows which task's log, told on its channel's notices. */
  private readonly logListeners = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(schema: string, listen: boolean) {
    this.channel = `bgtask_changes_${schema}`;
    this.logChannel = `bgtask_logs_${schema}`;
    this.listenAtAll = listen;
  }

  /** The connection notices are listened on and sent over (made after this, as it reports to it). */
  attach(db: PgConnection): void {
    this.db = db;
  }

  private get connection(): PgConnection {
    if (!this.db) throw new Error("notices used before their connection was attached");
    return this.db;
  }

  notification(message: pg.Notification): void {
    if (message.channel === this.channel) this.tell(message.payload === "*" || !message.payload ? null : message.payload.split(","));
    else if (message.channel === this.logChannel) for (const listener of [...(this.logListeners.get(message.payload ?? "") ?? [])]) listener();
  }

  async reconnected(client: pg.Client): Promise<void> {
    await this.listen(client);
    if (this.listeners.size > 0) this.tell(null);
    this.tellLogFollowers();
  }

  /** While someone listens, a connection lost between operations is made again soon, not at the next operation. */
  lost(pauseMs = 50): void {
    if (this.closed || (this.listeners.size === 0 && this.logListeners.size === 0)) return;
    setTimeout(
      () => void this.connection.serially(async () => undefined).catch(() => this.lost(Math.min(pauseMs * 2, 2_000))),
      pauseMs * (0.5 + Math.random()),
    ).unref();
  }

  /**
   * The notice a transaction that changed `ids` sends with its commit: those ids with the ones held
   * back from coalesced transactions before it; or null, holding them back (a coalesced one within
   * NOTICE_EVERY_MS of the last notice) for the timer to send. A transaction rolled back after
   * holding its ids back makes a notice name tasks that did not change: listeners read them and
   * find nothing new.
   */
  payload(ids: Iterable<string>, coalesce: boolean): string | null {
    let any = false;
    for (const id of ids) {
      this.heldBack.add(id);
      any = true;
    }
    if (!any) return null;
    const sinceMs = performance.now() - this.lastNoticeAt;
    if (coalesce && sinceMs < NOTICE_EVERY_MS) {
      this.noticeTimer ??= setTimeout(() => void this.sendHeldBack().catch(() => undefined), NOTICE_EVERY_MS - sinceMs);
      return null;
    }
    return this.takeHeldBack();
  }

  private takeHeldBack(): string {
    const ids = [...this.heldBack].join(",");
    this.heldBack.clear();
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    this.lastNoticeAt = performance.now();
    return ids.length > NOTIFY_MAX_BYTES ? "*" : ids;
  }

  /** Sends the ids held back, on the store's connection after what runs there now (so after the commits that changed them). */
  private sendHeldBack(): Promise<void> {
    return this.connection.serially(async (client) => {
      if (this.heldBack.size > 0) await client.query("select pg_notify($1, $2)", [this.channel, this.takeHeldBack()]);
    });
  }

  /**
   * LISTENs on the store's own connection (one connection per store: a worker holds two, its own and
   * its supervisor's), queued like an operation, so a change committed after this returns is told.
   * A connection made again listens again and tells "anything may have changed".
   */
  watchChanges(onChange: ChangeListener): { close(): void } {
    this.listeners.add(onChange);
    if (this.listeners.size === 1) this.startHearing();
    return {
      close: () => {
        this.listeners.delete(onChange);
        this.stopPollingIfUnheard();
      },
    };
  }

  /** As watchChanges, for one task's log: its appends notify the log channel, which only log followers hear. */
  listenLog(taskId: string, onNotice: () => void): { close(): void } {
    const first = this.logListeners.size === 0;
    const listeners = this.logListeners.get(taskId) ?? new Set();
    listeners.add(onNotice);
    this.logListeners.set(taskId, listeners);
    if (first) this.startHearing();
    return {
      close: () => {
        listeners.delete(onNotice);
        if (listeners.size === 0 && this.logListeners.get(taskId) === listeners) this.logListeners.delete(taskId);
        this.stopPollingIfUnheard();
      },
    };
  }

  /** A first watcher of a kind (changes, a log): LISTEN for it, or poll with `?listen=off`. */
  private startHearing(): void {
    if (this.listenAtAll) void this.connection.serially((client) => this.listen(client)).catch(() => this.lost());
    else this.poll();
  }

  private stopPollingIfUnheard(): void {
    if (this.listeners.size === 0 && this.logListeners.size === 0) this.stopPolling();
  }

  /** LISTENs on `client` while someone watches; where PostgreSQL (or a pooler before it) refuses LISTEN, polls instead. */
  private async listen(client: pg.Client): Promise<void> {
    if (this.polling) return;
    try {
      if (this.listeners.size > 0) await client.query(`listen ${quoteIdent(this.channel)}`);
      if (this.logListeners.size > 0) await client.query(`listen ${quoteIdent(this.logChannel)}`);
    } catch (error) {
      if (isConnectionError(error)) throw error;
      this.poll();
    }
  }

  /** Tells the watchers (and log followers) every POLL_MS that anything may have changed: their reads find what did. */
  private poll(): void {
    this.polling ??= setInterval(() => {
      this.tell(null);
      this.tellLogFollowers();
    }, POLL_MS);
  }

  private stopPolling(): void {
    if (this.polling) clearInterval(this.polling);
    this.polling = null;
  }

  private tellLogFollowers(): void {
    for (const listeners of [...this.logListeners.values()]) for (const listener of [...listeners]) listener();
  }

  private tell(ids: readonly string[] | null): void {
    for (const listener of [...this.listeners]) listener(ids);
  }

  /** Stops hearing; ids held back are told before the connection goes, or a watcher elsewhere would wait for its poll. */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopPolling();
    this.logListeners.clear();
    if (this.heldBack.size > 0 && this.db?.current) await this.sendHeldBack().catch(() => undefined);
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
  }
}
