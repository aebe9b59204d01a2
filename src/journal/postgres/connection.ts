// The PostgreSQL store's one connection: made (loading pg on first use), made again with jittered
// backoff when lost, operations run on it in turn, and transactions whose commit is settled by a
// token written with the change, so a connection lost during COMMIT never leaves the caller
// guessing. It knows nothing of tasks; the store and its notices (notices.ts) run on it.
import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type pg from "pg";
import { isDatabaseRefusal, JournalError, JournalOutcomeUnknownError, JournalUnavailableError } from "../../errors.ts";
import { nativeImport } from "../../host/native-import.ts";
import type { PgLocation } from "./location.ts";
import { quoteIdent, SCHEMA_VERSION } from "./schema.ts";

const QUERY_TIMEOUT_MS = 30_000;

/** Lost, refused or not yet accepted connections (a restart): nothing of an uncommitted transaction took effect. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (/^(08|57P0[123])/.test(code) || ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"].includes(code)))
    return true;
  return error instanceof Error && /Connection terminated|connection error|not queryable|Query read timeout/i.test(error.message);
}

/** A connection lost or refused, or a statement PostgreSQL refused for want of a resource, as the one sentence it is (exit 3); any other error as it is. */
export function asUnavailable(location: PgLocation, error: unknown): unknown {
  return isConnectionError(error) || isDatabaseRefusal(error) ? new JournalUnavailableError(location.shown, error) : error;
}

/** PostgreSQL ended the transaction itself (deadlock_detected, serialization_failure): run it again. */
function isRolledBack(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

/** A first connection, or the sentence saying why there is none. */
export function connectOrSay(location: PgLocation): Promise<pg.Client> {
  return connect(location).catch((error: unknown) => {
    throw error instanceof JournalError ? error : new JournalUnavailableError(location.shown, error);
  });
}

/** The driver, loaded on the first connection: no process of a file journal loads it. */
let driver: Promise<typeof pg> | null = null;

async function connect(location: PgLocation): Promise<pg.Client> {
  driver ??= nativeImport("pg").then(
    (module) => (module as { default?: typeof pg }).default ?? (module as typeof pg),
    (error: unknown) => {
      driver = null;
      if ((error as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw error;
      // An optional peer dependency: a project on the file journal does not install it.
      throw new JournalError("ENOPG", "a PostgreSQL journal needs the pg package beside bgtask: npm install pg", { cause: error });
    },
  );
  const { Client } = await driver;
  // A database cut off mid-query must not hang its caller for the kernel's keepalive (hours): a query
  // still unanswered after QUERY_TIMEOUT_MS fails, as a lost connection does.
  const client = new Client({
    connectionString: location.connectionString,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5_000,
    query_timeout: QUERY_TIMEOUT_MS,
  });
  // A connection lost while idle must not crash the process: the next operation finds it gone.
  client.on("error", () => undefined);
  await client.connect();
  // The claim's correlated subqueries make its estimated cost large (the planner cannot know they
  // rarely run), which turned JIT compilation on for every claim: about 240 ms of it each time,
  // for a statement that runs in under 1 ms. bgtask's statements are all short.
  await client.query("set jit = off");
  return client;
}

/** A commit cut off and found not made: the operation is run again from its start. */
class RunAgain extends Error {
  constructor(cause: unknown) {
    super("the commit was cut off and not made", { cause });
  }
}

/** What the connection's owner hears of it. */
export interface ConnectionEvents {
  /** A connection was made again (not the first): listen again; notices may have been missed. */
  reconnected(client: pg.Client): Promise<void>;
  /** The connection was lost between operations. */
  lost(): void;
  notification(message: pg.Notification): void;
}

/**
 * What a transaction sends with its commit token, computed once its operation ran: a NOTIFY on
 * `channel` (or none), and `alongside`, a data-modifying statement written as a CTE whose
 * parameters start at $4 (or none), so that neither costs a round trip of its own.
 */
export interface CommitNotice {
  channel: string;
  payload: () => string | null;
  alongside?: () => { cte: string; values: unknown[] } | null;
}

export class PgConnection {
  readonly where: PgLocation;
  /** The quoted schema name. */
  readonly s: string;
  private readonly waitMs: number;
  private readonly events: ConnectionEvents;
  /** One connection runs one transaction at a time: operations queue here. */
  private turn: Promise<unknown> = Promise.resolve();
  /** The connection operations run on; null once lost, until the next operation connects again. */
  private client: pg.Client | null;
  /** The schema's version as the last transaction began: another bgtask may have migrated it since this one opened. */
  schemaSeen = SCHEMA_VERSION;

  constructor(where: PgLocation, client: pg.Client, waitMs: number, events: ConnectionEvents) {
    this.where = where;
    this.s = quoteIdent(where.schema);
    this.waitMs = waitMs;
    this.events = events;
    this.client = client;
    this.watch(client);
  }

  /** The connection in use, or null while it is lost. */
  get current(): pg.Client | null {
    return this.client;
  }

  private watch(client: pg.Client): void {
    const lost = () => {
      if (this.client !== client) return;
      this.client = null;
      this.events.lost();
    };
    client.on("error", lost).on("end", lost);
    client.on("notification", (message) => this.events.notification(message));
  }

  /** The connection, made again (jittered backoff) if it was lost; unreachable until `deadline` fails the operation. */
  private async connection(deadline: number): Promise<pg.Client> {
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
      if (this.client) return this.client;
      try {
        const client = await connect(this.where);
        this.watch(client);
        await this.events.reconnected(client);
        this.client = client;
        return client;
      } catch (error) {
        if (!isConnectionError(error) || Date.now() + pauseMs >= deadline) throw new JournalUnavailableError(this.where.shown, error);
        await delay(pauseMs * (0.5 + Math.random()));
      }
    }
  }

  /** Runs `attempt` in turn on the connection; a connection lost before anything was committed is made again and `attempt` run again. */
  serially<T>(attempt: (client: pg.Client) => Promise<T>): Promise<T> {
    const run = async () => {
      const deadline = Date.now() + this.waitMs;
      for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
        const client = await this.connection(deadline);
        try {
          return await attempt(client);
        } catch (error) {
          // A refusal rolled the transaction back on a connection that still works; it does not pass within one command's wait.
          if (isDatabaseRefusal(error)) throw new JournalUnavailableError(this.where.shown, error);
          // A deadlock or serialisation failure rolled the transaction back, on a connection that still works.
          const rolledBack = isRolledBack(error);
          if (!rolledBack && !isConnectionError(error) && !(error instanceof JournalUnavailableError) && !(error instanceof RunAgain)) throw error;
          if (!rolledBack) {
            if (this.client === client) this.client = null;
            void client.end().catch(() => undefined);
          }
          if (Date.now() + pauseMs >= deadline) throw error instanceof JournalUnavailableError ? error : new JournalUnavailableError(this.where.shown, error);
          await delay(pauseMs * (0.5 + Math.random()));
        }
      }
    };
    const next = this.turn.then(run, run);
    this.turn = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `operation`, a read of several statements, in one read-only REPEATABLE READ transaction:
   * its statements see one moment. Apart, a task that ended between two of them was read twice,
   * and one queued again was read by neither.
   */
  snapshot<T>(operation: () => Promise<T>): Promise<T> {
    return this.serially(async (client) => {
      await client.query("begin isolation level repeatable read read only");
      try {
        const result = await operation();
        await client.query("commit");
        return result;
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Runs `operation` as one transaction, committed synchronously unless `sync` is false (lost in a
   * crash of PostgreSQL, such a commit costs what the caller can afford to lose), with `notice` in
   * the same round trip as the commit token.
   */
  transaction<T>(operation: () => Promise<T>, sync: boolean, notice: CommitNotice): Promise<T> {
    return this.serially(async (client) => {
      const token = randomUUID();
      // The server process behind this connection: after a COMMIT cut off, it may still be about to make it.
      const backend = (client as unknown as { processID: number | null }).processID;
      let result: T;
      try {
        // The schema's version rides along with the begin (no round trip of its own).
        const began = (await client.query(
          `begin; ${sync ? "" : "set local synchronous_commit = off;"} select value as version from ${this.s}.meta where key = 'version'`,
        )) as unknown as pg.QueryResult[];
        this.schemaSeen = Number(began[began.length - 1]?.rows[0]?.version ?? SCHEMA_VERSION);
        result = await operation();
        // The token is written with the change: after a connection lost during the commit, it tells
        // whether the commit was made. The notice goes in the same round trip.
        const alongside = notice.alongside?.() ?? null;
        await client.query(
          `with token as (insert into ${this.s}.commits (token) values ($1))${alongside ? `, ${alongside.cte}` : ""} select case when $3::text is null then null else pg_notify($2, $3) end`,
          [token, notice.channel, notice.payload(), ...(alongside?.values ?? [])],
        );
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
      try {
        await client.query("commit");
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        if (await this.committed(token, backend)) return result;
        throw new RunAgain(error);
      }
      // Now and then, the tokens old enough that no commit can still be in doubt.
      if (Math.random() < 0.001) await client.query(`delete from ${this.s}.commits where at < now() - interval '1 hour'`).catch(() => undefined);
      return result;
    });
  }

  /**
   * Whether the commit that wrote `token` was made, asked on a new connection; when the database
   * cannot say within the wait, nobody can: JournalOutcomeUnknownError. The old connection's
   * server process (`backend`) is ended first, and its end waited for: one still alive may yet
   * receive that COMMIT (late, from a slow network or a client that gave up waiting) and make it
   * after a look that found no token, and the operation, run again, would be made twice.
   */
  private async committed(token: string, backend: number | null): Promise<boolean> {
    const deadline = Date.now() + this.waitMs;
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
      this.client = null;
      try {
        const client = await this.connection(deadline);
        if (backend !== null) await this.ended(client, backend, deadline);
        return (await client.query(`select 1 from ${this.s}.commits where token = $1`, [token])).rows.length > 0;
      } catch (error) {
        if (!isConnectionError(error) && !(error instanceof JournalUnavailableError)) throw error;
        if (Date.now() + pauseMs >= deadline) throw new JournalOutcomeUnknownError(this.where.shown, error);
        await delay(pauseMs * (0.5 + Math.random()));
      }
    }
  }

  /** Ends the server process `pid` (one of this role's own), and waits until it is gone; its open transaction is rolled back, a commit it was making is made. */
  private async ended(client: pg.Client, pid: number, deadline: number): Promise<void> {
    try {
      await client.query("select pg_terminate_backend($1)", [pid]);
    } catch (error) {
      // A role the database does not let end its own processes: the token is all there is to go by.
      if ((error as { code?: string }).code === "42501") return;
      throw error;
    }
    for (let pauseMs = 5; (await client.query("select 1 from pg_stat_activity where pid = $1", [pid])).rows.length > 0; pauseMs = Math.min(pauseMs * 2, 200)) {
      if (Date.now() + pauseMs >= deadline) throw new JournalUnavailableError(this.where.shown, new Error(`server process ${pid} did not end`));
      await delay(pauseMs);
    }
  }

  /** A statement on the connection the current operation runs on (see serially). */
  query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    if (!this.client) return Promise.reject(new JournalUnavailableError(this.where.shown, new Error("Connection terminated")));
    return this.client.query(text, values);
  }

  /** Waits for what runs on the connection, then ends it. */
  async close(): Promise<void> {
    await this.turn;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
