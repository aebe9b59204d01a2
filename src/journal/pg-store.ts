// The JournalStore contract on PostgreSQL: one row per task, the record as jsonb beside the columns
// the indexes and the claim need. Like the memory store it holds no rules: each operation reads its
// rows FOR UPDATE in one transaction, applies core/'s transitions, and writes them back, so both
// stores make the same records. What only SQL can do well is SQL's: the claim takes its candidates
// in claim order with SKIP LOCKED, so workers on many hosts never wait on each other's tasks, and a
// unique index on running serial keys makes "one at a time per key" the database's promise.
import type pg from "pg";
import { nativeImport } from "../host/native-import.ts";
import { compareActiveOnPage, finalsWanted, listed } from "../core/list-order.ts";
import { addCount, type ExecutorCounts, finishedPerMinute } from "../core/stats.ts";
import { applyVerdict, isSameHolder, type JournalClock, LOCAL_CLOCK, type TickHolder } from "../core/recovery.ts";
import { maxTriesOf } from "../core/retry-policy.ts";
import { firedStates, firedTasks, type ScheduleState } from "../core/schedule.ts";
import {
  concurrencyOf,
  createTask,
  FINAL_STATUSES,
  finishedTime,
  isFinal,
  keyOf,
  type NewTask,
  pinnedHostOf,
  priorityOf,
  type TaskRecord,
  waitingForOf,
  type WorkerRef,
} from "../core/task.ts";
import {
  afterDependencies,
  cancel,
  cancelEffect,
  canGiveBack,
  claim,
  claimFilterOn,
  claimRank,
  type Ended,
  findKeyed,
  giveBack,
  isHeldBy,
  mayClaimAhead,
  pickFirst,
  withoutClashes,
  type KeyOutcome,
  promote,
  releaseDependents,
  replaceKeyed,
  rerun,
  settle,
  type ClaimFilter,
  type TryOutcome,
} from "../core/transitions.ts";
import { retirement, SLOT_RESERVATION_MS, wantsWorker, type WorkerSlot } from "../core/workers.ts";
import { randomUUID } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import {
  JournalCorruptError,
  JournalError,
  JournalOutcomeUnknownError,
  JournalUnavailableError,
  LeaseLostError,
  TaskNotFoundError,
  UsageError,
} from "../errors.ts";
import { uniqueName } from "../host/unique-name.ts";
import type { DoctorReport, FileReport } from "./doctor.ts";
import { checkSchema, LOCK, lockKey, migrate, quoteIdent, SCHEMA_VERSION, schemaVersion } from "./pg-schema.ts";
import { DEFAULT_PG_SCHEMA } from "./location.ts";
import { PgTaskOutput } from "./pg-output.ts";
import { checkTask } from "./schema.ts";
import type { TaskOutput } from "./task-output.ts";
import type {
  CancelEffect,
  ChangeListener,
  EnqueueResult,
  Exchange,
  FireRequest,
  ExchangeResult,
  JournalCopy,
  JournalStore,
  ListFilter,
  PageFilter,
  StoreStats,
  Recovery,
  RecoverResult,
  RemoveResult,
  RetireResult,
  SlotRequest,
  Survey,
  TaskReport,
  TryControl,
} from "./store.ts";

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
const QUERY_TIMEOUT_MS = 30_000;
const FINALS_SQL = `(${FINAL_STATUSES.map((s) => `'${s}'`).join(", ")})`;
/**
 * The database's clock is measured anew this often (and on every new connection, so after a
 * restart): a host's clock stepped by NTP is followed within a minute.
 */
const CLOCK_EVERY_MS = 60_000;
/** Round trips per measurement: the one with the shortest round trip is kept (its midpoint is the surest). */
const CLOCK_SAMPLES = 3;
/**
 * An offset this small is taken as none: far below any heartbeat timeout, and more than the error
 * of a measurement on one machine or a LAN, so a host beside its database stamps its own times
 * (as the contract suite's injected clock requires) rather than a fraction of a millisecond off.
 */
const CLOCK_DEAD_BAND_MS = 250;
/** A task a claim could take (core's isRunnable), as a WHERE clause. */
// The status list repeats tasks_ready's predicate word for word: with it PostgreSQL can walk that
// index in claim order and stop at the first rows that qualify; without it, it sorted every
// runnable record for each claim (a 10,000-task queue drained at 400/s, not 3,000/s).
const RUNNABLE_SQL = `(not waiting and status in ('queued', 'scheduled', 'paused') and (status = 'queued' or next_run_at is null or next_run_at <= $1))`;
/** A task a worker on host `$n` may claim (core's isClaimableOn): pinned to it or to none; any task when `$n` is null. */
const onHostSql = (n: string) => `(${n}::text is null or pinned_host is null or pinned_host = ${n})`;

export interface PgLocation {
  /** The URL as given, without a password, for messages. */
  shown: string;
  connectionString: string;
  schema: string;
  /** False (`?listen=off`): never LISTEN, poll. A transaction pooler (PgBouncer's pool_mode=transaction) accepts LISTEN but delivers nothing. */
  listen: boolean;
}

/** Splits bgtask's own `?schema=` and `?listen=` off a postgres:// URL (PostgreSQL itself would refuse them as start-up parameters). */
export function parsePgLocation(url: string): PgLocation {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get("schema") ?? DEFAULT_PG_SCHEMA;
  const listen = parsed.searchParams.get("listen") ?? "on";
  if (listen !== "on" && listen !== "off") {
    throw new UsageError(`the journal URL's listen=${listen} must be listen=on (the default) or listen=off (poll, behind a transaction pooler)`);
  }
  parsed.searchParams.delete("schema");
  parsed.searchParams.delete("listen");
  const shown = new URL(parsed.toString());
  shown.password = "";
  return { shown: shown.toString(), connectionString: parsed.toString(), schema, listen: listen === "on" };
}

/** Lost, refused or not yet accepted connections (a restart): nothing of an uncommitted transaction took effect. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && (/^(08|57P0[123])/.test(code) || ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"].includes(code)))
    return true;
  return error instanceof Error && /Connection terminated|connection error|not queryable|Query read timeout/i.test(error.message);
}

/** PostgreSQL ended the transaction itself (deadlock_detected, serialization_failure): run it again. */
function isRolledBack(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

/**
 * Opens the store, connecting once (a database that refuses now fails the command at once, exit 3)
 * and migrating the schema. Later connections lost are made again by the operation that needs one,
 * with jittered backoff for up to `waitMs`.
 */
export async function openPgStore(url: string, waitMs: number): Promise<PgStore> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    await migrate(client, location.schema);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw isConnectionError(error) ? new JournalUnavailableError(location.shown, error) : error;
  }
  return new PgStore(location, client, waitMs);
}

/** Creates or upgrades the schema; returns its version before and after. */
export async function migratePg(url: string): Promise<{ location: string; schema: string; from: number; to: number }> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    const from = await schemaVersion(client, location.schema);
    await migrate(client, location.schema);
    return { location: location.shown, schema: location.schema, from, to: SCHEMA_VERSION };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `bgtask doctor` on PostgreSQL: the schema (version, tables), then every task record read as the store reads it. */
export async function diagnosePg(url: string): Promise<DoctorReport> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    const schema = await checkSchema(client, location.schema);
    const item = (role: FileReport["role"], file: string, problem: string | null, notes: string[]): FileReport => ({
      role,
      file,
      path: `${location.shown} ${file}`,
      status: problem ? "damaged" : "ok",
      problem,
      notes,
    });
    const files = [item("schema", `schema ${location.schema}`, schema.problems.join("; ") || null, [`version ${schema.version}`])];
    const newer = schema.version > SCHEMA_VERSION;
    if (schema.problems.length === 0) {
      let checked = 0;
      let problem: string | null = null;
      // In pages by id, so a deep queue is read a piece at a time.
      for (let after = "0"; problem === null; ) {
        // Ordered by the bigint, not its text (where "10" sorts before "9").
        const rows = await client.query(`select id::text as key, record from ${quoteIdent(location.schema)}.tasks where id > $1 order by tasks.id limit 5000`, [
          after,
        ]);
        if (rows.rows.length === 0) break;
        for (const row of rows.rows) {
          const found = checkTask(row.record);
          if (found) {
            problem = `task ${row.key}: ${found}`;
            break;
          }
          checked += 1;
        }
        after = rows.rows[rows.rows.length - 1].key;
      }
      files.push(item("table", `${location.schema}.tasks`, problem, [`${checked} task${checked === 1 ? "" : "s"} read`]));
    }
    return { home: location.shown, healthy: files.every((f) => f.status === "ok"), files, leftovers: [], newer };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A first connection, or the sentence saying why there is none. */
function connectOrSay(location: PgLocation): Promise<pg.Client> {
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

/**
 * A list's or a page's filter as the start of a WHERE clause ("… and", or "" for none) and its
 * values: ids, statuses, executor, and a search that is an id or a piece of the message (core's matchesPage).
 */
function filterSql(filter: Pick<ListFilter, "ids" | "statuses" | "executor"> & { search?: string }): { where: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(sql(`$${values.length}`));
  };
  if (filter.ids) add((n) => `id = any(${n}::bigint[])`, filter.ids);
  if (filter.statuses) add((n) => `status = any(${n}::text[])`, filter.statuses);
  if (filter.executor) add((n) => `executor = ${n}`, filter.executor);
  if (filter.search) add((n) => `(id::text = ${n} or strpos(lower(coalesce(record->>'message', '')), lower(${n})) > 0)`, filter.search);
  return { where: conditions.length > 0 ? `${conditions.join(" and ")} and` : "", values };
}

interface TaskRow {
  record: TaskRecord;
}

/** The tasks an operation wrote (null: deleted), for its change notice and for releasing those waiting for them. */
type Changed = Map<string, TaskRecord | null>;

export class PgStore implements JournalStore {
  readonly location: string;
  private readonly s: string;
  /** One connection runs one transaction at a time: operations queue here. */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly channel: string;
  /** A task whose queue is not paused, as a WHERE clause. */
  private readonly notPausedSql: string;
  private readonly listeners = new Set<ChangeListener>();
  /** Ids changed by coalesced transactions and not yet in a notice (see noticeNow). */
  private readonly heldBack = new Set<string>();
  private noticeTimer: NodeJS.Timeout | null = null;
  private lastNoticeAt = Number.NEGATIVE_INFINITY;
  /** Set once watchers are told by polling instead of NOTIFY (see listen). */
  private polling: NodeJS.Timeout | null = null;
  private readonly logChannel: string;
  /** Who follows which task's log, told on its channel's notices. */
  private readonly logListeners = new Map<string, Set<() => void>>();
  private readonly output: PgTaskOutput;
  private closed = false;

  private readonly where: PgLocation;
  /** The database's clock as last measured (see freshClock), on `clockConnection`, at `clockAt` (performance.now()). */
  private measured: JournalClock = LOCAL_CLOCK;
  private clockConnection: pg.Client | null = null;
  private clockAt = 0;
  /** The connection operations run on; null once lost, until the next operation connects again. */
  private client: pg.Client | null;
  private readonly waitMs: number;

  constructor(where: PgLocation, client: pg.Client, waitMs: number) {
    this.where = where;
    this.client = client;
    this.waitMs = waitMs;
    this.watchConnection(client);
    this.location = where.shown;
    this.s = quoteIdent(where.schema);
    this.channel = `bgtask_changes_${where.schema}`;
    this.logChannel = `bgtask_logs_${where.schema}`;
    this.notPausedSql = `executor not in (select executor from ${this.s}.paused_queues)`;
    const query = (text: string, values?: unknown[]) => this.query(text, values);
    this.output = new PgTaskOutput({
      s: this.s,
      shown: `${where.shown}${where.shown.includes("?") ? "&" : "?"}schema=${encodeURIComponent(where.schema)}`,
      logChannel: this.logChannel,
      transaction: (work, sync) => this.tx(() => work(query), { sync }),
      read: (work) => this.read(() => work(query)),
      listenLog: (taskId, onNotice) => this.listenLog(taskId, onNotice),
    });
  }

  /** The home is not used: a task's output lives in the database, beside the task. */
  taskOutput(_home: string): TaskOutput {
    return this.output;
  }

  private watchConnection(client: pg.Client): void {
    const lost = () => {
      if (this.client !== client) return;
      this.client = null;
      this.listenAgainLater();
    };
    client.on("error", lost).on("end", lost);
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.tell(message.payload === "*" || !message.payload ? null : message.payload.split(","));
      else if (message.channel === this.logChannel) for (const listener of [...(this.logListeners.get(message.payload ?? "") ?? [])]) listener();
    });
  }

  /** The connection, made again (jittered backoff) if it was lost; unreachable until `deadline` fails the operation. */
  private async connection(deadline: number): Promise<pg.Client> {
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
      if (this.client) return this.client;
      try {
        const client = await connect(this.where);
        this.watchConnection(client);
        await this.listen(client);
        this.client = client;
        if (this.listeners.size > 0) this.tell(null);
        this.tellLogFollowers();
        return client;
      } catch (error) {
        if (!isConnectionError(error) || Date.now() + pauseMs >= deadline) throw new JournalUnavailableError(this.where.shown, error);
        await delay(pauseMs * (0.5 + Math.random()));
      }
    }
  }

  /** Runs `attempt` in turn on the connection; a connection lost before anything was committed is made again and `attempt` run again. */
  private serially<T>(attempt: (client: pg.Client) => Promise<T>): Promise<T> {
    const run = async () => {
      const deadline = Date.now() + this.waitMs;
      for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
        const client = await this.connection(deadline);
        try {
          return await attempt(client);
        } catch (error) {
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
   * Runs `operation` as one transaction. Reports and a worker's slot bookkeeping may commit
   * asynchronously: lost in a crash of PostgreSQL, they cost a progress line or a slot pruned later.
   * Claims and ends never: a try whose end was lost would stay "running" under a worker that lives
   * and has moved on, and nothing would ever take it back.
   */
  private tx<T>(operation: (changed: Changed) => Promise<T>, options: { sync: boolean; coalesce?: boolean } = { sync: true }): Promise<T> {
    return this.serially(async (client) => {
      const changed: Changed = new Map();
      const token = randomUUID();
      await client.query(options.sync ? "begin" : "begin; set local synchronous_commit = off");
      let result: T;
      try {
        result = await operation(changed);
        // The token is written with the change: after a connection lost during the commit, it tells
        // whether the commit was made. The notice goes in the same round trip.
        const payload = this.noticeNow(changed, options.coalesce === true);
        await client.query(
          `with token as (insert into ${this.s}.commits (token) values ($1)) select case when $3::text is null then null else pg_notify($2, $3) end`,
          [token, this.channel, payload],
        );
      } catch (error) {
        await client.query("rollback").catch(() => undefined);
        throw error;
      }
      try {
        await client.query("commit");
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        if (await this.committed(token)) return result;
        throw new RunAgain(error);
      }
      // Now and then, the tokens old enough that no commit can still be in doubt.
      if (Math.random() < 0.001) await client.query(`delete from ${this.s}.commits where at < now() - interval '1 hour'`).catch(() => undefined);
      return result;
    });
  }

  /**
   * The notice a transaction sends with its commit: its changed ids, with those held back from
   * coalesced ones before it; or null, holding them back (a coalesced one within NOTICE_EVERY_MS
   * of the last notice) for the timer to send. A transaction rolled back after holding its ids back
   * makes a notice name tasks that did not change: listeners read them and find nothing new.
   */
  private noticeNow(changed: Changed, coalesce: boolean): string | null {
    if (changed.size === 0) return null;
    for (const id of changed.keys()) this.heldBack.add(id);
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
    return this.serially(async (client) => {
      if (this.heldBack.size > 0) await client.query("select pg_notify($1, $2)", [this.channel, this.takeHeldBack()]);
    });
  }

  /**
   * Whether the commit that wrote `token` was made, asked on a new connection; when the database
   * cannot say within the wait, nobody can: JournalOutcomeUnknownError.
   */
  private async committed(token: string): Promise<boolean> {
    const deadline = Date.now() + this.waitMs;
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 2_000)) {
      this.client = null;
      try {
        const client = await this.connection(deadline);
        return (await client.query(`select 1 from ${this.s}.commits where token = $1`, [token])).rows.length > 0;
      } catch (error) {
        if (!isConnectionError(error) && !(error instanceof JournalUnavailableError)) throw error;
        if (Date.now() + pauseMs >= deadline) throw new JournalOutcomeUnknownError(this.where.shown, error);
        await delay(pauseMs * (0.5 + Math.random()));
      }
    }
  }

  private read<T>(operation: () => Promise<T>): Promise<T> {
    return this.serially(operation);
  }

  /** A statement on the connection the current operation runs on (see serially). */
  private query(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    if (!this.client) return Promise.reject(new JournalUnavailableError(this.where.shown, new Error("Connection terminated")));
    return this.client.query(text, values);
  }

  private records(rows: readonly TaskRow[]): TaskRecord[] {
    return rows.map(({ record }) => {
      const problem = checkTask(record);
      if (problem)
        throw new JournalCorruptError(`${this.location} (${this.where.schema}.tasks)`, `task ${JSON.stringify((record as { id?: unknown })?.id)}: ${problem}`);
      return record;
    });
  }

  private async select(where: string, values: unknown[], tail = ""): Promise<TaskRecord[]> {
    return this.records((await this.query(`select record from ${this.s}.tasks where ${where} ${tail}`, values)).rows);
  }

  private async lockTasks(ids: readonly string[]): Promise<Map<string, TaskRecord>> {
    if (ids.length === 0) return new Map();
    const tasks = await this.select("id = any($1::bigint[])", [ids], "order by id for update");
    return new Map(tasks.map((t) => [t.id, t]));
  }

  /** Writes records back (or inserts new ones): every column is derived from the record. */
  private async put(changed: Changed, tasks: readonly TaskRecord[]): Promise<TaskRecord[]> {
    if (tasks.length === 0) return [];
    const column = <T>(f: (t: TaskRecord) => T) => tasks.map(f);
    await this.query(
      `insert into ${this.s}.tasks (id, executor, status, serial_key, lease, claim_rank, claim_at, next_run_at, finished_at, timeout_ms, record,
         priority, dedupe_key, waiting, concurrency, pinned_host)
       select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::jsonb[],
         $12::int[], $13::text[], $14::boolean[], $15::int[], $16::text[])
       on conflict (id) do update set executor = excluded.executor, status = excluded.status, serial_key = excluded.serial_key, lease = excluded.lease,
         claim_rank = excluded.claim_rank, claim_at = excluded.claim_at, next_run_at = excluded.next_run_at, finished_at = excluded.finished_at,
         timeout_ms = excluded.timeout_ms, record = excluded.record, priority = excluded.priority, dedupe_key = excluded.dedupe_key,
         waiting = excluded.waiting, concurrency = excluded.concurrency, pinned_host = excluded.pinned_host`,
      [
        column((t) => t.id),
        column((t) => t.executor),
        column((t) => t.status),
        column((t) => t.serialKey),
        column((t) => t.lease),
        column(claimRank),
        column((t) => (t.status === "paused" ? t.nextRunAt : null)),
        column((t) => t.nextRunAt),
        column((t) => (isFinal(t.status) ? new Date(finishedTime(t)).toISOString() : null)),
        column((t) => t.timeoutMs),
        column((t) => JSON.stringify(t)),
        column(priorityOf),
        column(keyOf),
        column((t) => waitingForOf(t).length > 0),
        column(concurrencyOf),
        column(pinnedHostOf),
      ],
    );
    for (const task of tasks) changed.set(task.id, task);
    return tasks.map((t) => structuredClone(t));
  }

  /** Tells the tasks waiting for those this operation ended (and `removed`), in the same transaction (core's releaseDependents). */
  private async release(changed: Changed, now: Date, removed: readonly string[] = []): Promise<void> {
    const ended: Ended[] = removed.map((id) => ({ id, status: "removed" }));
    for (const [id, task] of changed) if (task && isFinal(task.status)) ended.push({ id, status: task.status });
    if (ended.length === 0) return;
    const waiting = await this.select(`waiting and status not in ${FINALS_SQL}`, [], "order by id for update");
    if (waiting.length > 0) await this.put(changed, releaseDependents(waiting, ended, now));
  }

  private async paused(): Promise<Set<string>> {
    return new Set((await this.query(`select executor from ${this.s}.paused_queues`)).rows.map((r) => r.executor as string));
  }

  private async applyRecovery(changed: Changed, now: Date, recovery: Recovery): Promise<RecoverResult> {
    const result: RecoverResult = { recovered: [], forced: [], promoted: [] };
    // Found before the verdicts, as the other stores do: a try recovered for a retry due at once is the next recovery's.
    const scheduled = await this.select("status = 'scheduled' and next_run_at <= $1", [now], "order by next_run_at for update skip locked");
    const held = await this.lockTasks(recovery.verdicts.map((v) => v.id));
    const writes: TaskRecord[] = [];
    for (const { id, lease, verdict } of recovery.verdicts) {
      const task = held.get(id);
      if (!task || !isHeldBy(task, lease)) continue;
      writes.push(applyVerdict(task, verdict, now));
      (verdict.kind === "overdue" ? result.forced : result.recovered).push(id);
    }
    for (const task of scheduled) {
      const promoted = promote(task, now);
      if (promoted === task) continue;
      writes.push(promoted);
      result.promoted.push(task.id);
    }
    await this.put(changed, writes);
    await this.pruneSlots(now, recovery.deadSlots);
    return result;
  }

  private async pruneSlots(now: Date, deadSlots: readonly string[]): Promise<void> {
    await this.query(`delete from ${this.s}.slots where (process is null and reserved_at <= $1) or slot = any($2::text[])`, [
      new Date(now.getTime() - SLOT_RESERVATION_MS),
      deadSlots,
    ]);
  }

  private async lockSlots(): Promise<void> {
    await this.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.where.schema, LOCK.slots));
  }

  private async reserveSlot(now: Date, request: SlotRequest): Promise<string | null> {
    await this.lockSlots();
    await this.pruneSlots(now, request.deadSlots);
    const counts = await this.query(
      `select count(*) filter (where host is null or host = $1)::int as on_host, count(*)::int as everywhere from ${this.s}.slots`,
      [request.host],
    );
    const { on_host: onHost, everywhere } = counts.rows[0];
    if (onHost >= request.maxWorkers) return null;
    // Only whether demand exceeds the live workers matters, so counting stops there (core's isDemand and hostDemand as SQL).
    const due = `${RUNNABLE_SQL} and ${this.notPausedSql}`;
    const demand = await this.query(
      `select (select count(*)::int from (select 1 from ${this.s}.tasks where status = 'running'
                 or (${due} and ${onHostSql("$3")}) limit $2) d) as claimable,
              (select count(*)::int from (select 1 from ${this.s}.tasks where (status = 'running' and record->'worker'->>'host' = $3)
                 or (${due} and pinned_host = $3) limit $4) l) as local`,
      [new Date(now.getTime() + request.scheduleWindowMs), everywhere + 1, request.host, onHost + 1],
    );
    const { claimable, local } = demand.rows[0];
    if (!wantsWorker(onHost, everywhere, request.maxWorkers, { claimable: claimable + (request.scheduleDue ? 1 : 0), local })) return null;
    const slot = uniqueName();
    await this.query(`insert into ${this.s}.slots (slot, host, reserved_at, process) values ($1, $2, $3, null)`, [slot, request.host, now]);
    return slot;
  }

  /**
   * Up to `count` runnable tasks in claim order (core's compareClaimOrder as an ORDER BY), locked,
   * passing over paused queues, busy serial keys, executors at their concurrency limit and the
   * filter's refusals: what core's pickFirst would pass over, so a limit counts only takeable tasks.
   */
  private async candidates(now: Date, count: number, filter: ClaimFilter | undefined, lock: boolean): Promise<TaskRecord[]> {
    return this.select(
      `${RUNNABLE_SQL} and id <> all($2::bigint[]) and ($3::int is null or timeout_ms is null or timeout_ms <= $3)
       and ${this.notPausedSql} and ($4::text[] is null or executor = any($4::text[]))
       and (serial_key is null or serial_key not in (select serial_key from ${this.s}.tasks where status = 'running' and serial_key is not null))
       and (concurrency is null or concurrency > (select count(*) from ${this.s}.tasks r where r.status = 'running' and r.executor = ${this.s}.tasks.executor))
       and ${onHostSql("$5")}`,
      [now, filter?.excludeIds ?? [], filter?.maxTimeoutMs ?? null, filter?.executors ?? null, filter?.host ?? null],
      `order by claim_rank, priority desc, claim_at nulls first, id limit ${Math.max(1, Math.floor(count))}${lock ? " for update skip locked" : ""}`,
    );
  }

  private async nextIds(count: number): Promise<string[]> {
    if (count === 0) return [];
    const rows = await this.query(`select nextval(pg_get_serial_sequence('${this.s}.tasks', 'id'))::text as id from generate_series(1, $1)`, [count]);
    return rows.rows.map((r) => r.id as string);
  }

  enqueue(tasks: readonly NewTask[], now: Date, workers: SlotRequest | null): Promise<EnqueueResult> {
    return this.tx(async (changed) => {
      // Checked before anything changes: one missing id, nothing stored.
      const dependencies = await this.lockTasks([...new Set(tasks.flatMap((t) => t.after ?? []))]);
      for (const input of tasks) for (const id of input.after ?? []) if (!dependencies.has(id)) throw new TaskNotFoundError(id);
      const stored: TaskRecord[] = [];
      const outcomes: KeyOutcome[] = [];
      const create = (id: string, input: NewTask): TaskRecord => {
        const created = createTask(id, structuredClone(input), now, maxTriesOf(input.retry));
        const after = (input.after ?? []).map((d) => dependencies.get(d)!);
        return after.length > 0 ? afterDependencies(created, after, now) : created;
      };
      if (!tasks.some((t) => t.key !== undefined && t.key !== null)) {
        const ids = await this.nextIds(tasks.length);
        stored.push(
          ...(await this.put(
            changed,
            tasks.map((input, i) => create(ids[i]!, input)),
          )),
        );
        outcomes.push(...tasks.map(() => "created" as const));
      } else {
        // Keyed runs check and insert one at a time under one lock: 50 at once make one task, and a
        // bulk enqueue's later lines find the task its first line made.
        await this.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.where.schema, LOCK.keys));
        for (const input of tasks) {
          const existing =
            input.key === undefined || input.key === null
              ? []
              : await this.select(`executor = $1 and dedupe_key = $2 and status not in ${FINALS_SQL}`, [input.executor, input.key], "for update");
          const keyed = findKeyed(existing, input);
          if (keyed) {
            const { task, outcome } = replaceKeyed(keyed, structuredClone(input), now);
            stored.push(task === keyed ? task : (await this.put(changed, [task]))[0]!);
            outcomes.push(outcome);
            continue;
          }
          stored.push((await this.put(changed, [create((await this.nextIds(1))[0]!, input)]))[0]!);
          outcomes.push("created");
        }
      }
      return { tasks: stored, outcomes, workerSlot: workers === null ? null : await this.reserveSlot(now, workers) };
    });
  }

  private async heldTask(id: string, lease: string): Promise<TaskRecord | null> {
    const task = (await this.lockTasks([id])).get(id);
    return task && isHeldBy(task, lease) ? task : null;
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.tx(
      async (changed) => {
        const task = await this.heldTask(id, lease);
        if (!task) throw new LeaseLostError(id);
        const attributes = report.attributes ? { ...task.attributes, ...report.attributes } : task.attributes;
        await this.put(changed, [{ ...task, ...structuredClone(report), attributes, heartbeatAt: await this.heartbeatAt(now) }]);
      },
      { sync: false, coalesce: true },
    );
  }

  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord> {
    return this.tx(
      async (changed) => {
        const task = await this.heldTask(id, lease);
        if (!task) throw new LeaseLostError(id);
        const settled = (await this.put(changed, [settle(task, outcome, now)]))[0]!;
        await this.release(changed, now);
        return settled;
      },
      { sync: true },
    );
  }

  exchange(worker: WorkerRef, now: Date, exchange: Exchange): Promise<ExchangeResult> {
    return this.tx(
      async (changed) => {
        const mine = await this.lockTasks([...exchange.ends.map((e) => e.id), ...exchange.giveBack.map((g) => g.id)]);
        const settled = exchange.ends.map((end) => {
          const task = mine.get(end.id);
          return task && isHeldBy(task, end.lease) ? settle(task, end.outcome, now) : null;
        });
        const returned = exchange.giveBack.flatMap(({ id, lease }) => {
          const task = mine.get(id);
          return task && isHeldBy(task, lease) && canGiveBack(task) ? [giveBack(task, now)] : [];
        });
        await this.put(changed, [...settled.filter((t) => t !== null), ...returned]);
        const recovered = exchange.recovery ? await this.applyRecovery(changed, now, exchange.recovery) : null;
        await this.release(changed, now);
        if (settled.includes(null) || exchange.claim < 1) return { settled, next: [], recovered };
        return { settled, next: await this.claimSome(changed, worker, now, exchange, claimFilterOn(worker.host, exchange.filter)), recovered };
      },
      { sync: true, coalesce: true },
    );
  }

  private async claimSome(changed: Changed, worker: WorkerRef, now: Date, exchange: Exchange, filter: ClaimFilter | undefined): Promise<TaskRecord[]> {
    const count = exchange.claim;
    const heartbeatAt = await this.heartbeatAt(now);
    for (let attempt = 1; ; attempt++) {
      const next: TaskRecord[] = [];
      // The candidates are what pickFirst would take (paused queues passed over in SQL): it keeps their order and the rest of its rules.
      let picked = pickFirst(await this.candidates(now, count, filter, true), now, count, filter);
      if (picked.some((task) => concurrencyOf(task) !== null)) picked = await this.withinLimits(picked);
      for (const task of picked) {
        if (!mayClaimAhead(next.length, task, exchange.start)) break;
        next.push({ ...claim(task, structuredClone(worker), uniqueName(), now), heartbeatAt });
      }
      // Another transaction may have started a task of the same serial key since the candidates were read: then the
      // unique index refuses this claim, and the candidates are read again, that key now busy. An empty claim would
      // tell a worker there is no work (one of `bgtask work --once` would leave) while there is.
      await this.query("savepoint claim");
      try {
        return await this.put(changed, next);
      } catch (error) {
        if ((error as { code?: string }).code !== "23505") throw error;
        await this.query("rollback to savepoint claim");
        for (const task of next) changed.delete(task.id);
        if (attempt === 3) return [];
      }
    }
  }

  /**
   * `picked` less what would take an executor past its `concurrency`, counted under a lock: the
   * candidates' counts were read before it, and two workers claiming at once (read committed, each
   * skipping the other's locked rows) would each start the last task the limit allows.
   */
  private async withinLimits(picked: TaskRecord[]): Promise<TaskRecord[]> {
    await this.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.where.schema, LOCK.limits));
    const executors = [...new Set(picked.filter((task) => concurrencyOf(task) !== null).map((task) => task.executor))];
    const rows = await this.query(
      `select executor, count(*)::int as running from ${this.s}.tasks where status = 'running' and executor = any($1::text[]) group by executor`,
      [executors],
    );
    return withoutClashes(picked, new Map(rows.rows.map((row) => [row.executor as string, row.running as number])));
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.tx(
      async () => {
        await this.query(
          `insert into ${this.s}.slots (slot, host, reserved_at, process) values ($1, $2, $3, $4)
           on conflict (slot) do update set host = excluded.host, process = excluded.process`,
          [slot, worker.host, now, JSON.stringify(worker)],
        );
      },
      { sync: false },
    );
  }

  retireWorker(slot: string, now: Date, scheduleWindowMs: number): Promise<RetireResult> {
    return this.tx(
      async () => {
        await this.lockSlots();
        // retirement() needs only a runnable task, if any, and the scheduled task due first within the window.
        const host: string | undefined = (await this.query(`select host from ${this.s}.slots where slot = $1`, [slot])).rows[0]?.host ?? undefined;
        const runnable = await this.candidates(now, 1, host === undefined ? undefined : { host }, false);
        const dueSoon = await this.select(
          `status in ('scheduled', 'paused') and not waiting and next_run_at > $1 and next_run_at <= $2
           and ${this.notPausedSql} and ${onHostSql("$3")}`,
          [now, new Date(now.getTime() + scheduleWindowMs), host ?? null],
          "order by next_run_at limit 1",
        );
        // Paused queues and tasks pinned elsewhere are passed over in both queries already.
        const result = retirement([...runnable, ...dueSoon], now, scheduleWindowMs, false);
        if (result.retired) await this.query(`delete from ${this.s}.slots where slot = $1`, [slot]);
        return result;
      },
      { sync: false },
    );
  }

  reserveWorker(now: Date, request: SlotRequest, releasing?: string): Promise<string | null> {
    return this.tx(async () => {
      if (releasing !== undefined) await this.query(`delete from ${this.s}.slots where slot = $1`, [releasing]);
      return this.reserveSlot(now, request);
    });
  }

  releaseWorker(slot: string): Promise<void> {
    return this.tx(async () => void (await this.query(`delete from ${this.s}.slots where slot = $1`, [slot])));
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.read(async () => (await this.select("id = $1", [id]))[0] ?? null);
  }

  list(filter: ListFilter): Promise<TaskRecord[]> {
    return this.read(async () => {
      const { where, values } = filterSql(filter);
      const limit = filter.limit === undefined ? "" : `limit ${Math.max(0, Math.floor(filter.limit))}`;
      // core's list priority (running and paused first, then by id), so a limit reads only what it keeps.
      const active = await this.select(`${where} status not in ${FINALS_SQL}`, values, `order by status in ('running', 'paused') desc, id ${limit}`);
      const wanted = finalsWanted(active.length, filter.limit);
      const finals =
        wanted === 0
          ? []
          : await this.select(
              `${where} status in ${FINALS_SQL}`,
              values,
              `order by finished_at desc, id desc ${Number.isFinite(wanted) ? `limit ${wanted}` : ""}`,
            );
      return listed(active, finals, filter.limit);
    });
  }

  survey(host: string): Promise<Survey> {
    return this.read(async () => {
      // Measured first, on this connection: the caller judges what it reads here by clock().
      await this.freshClock();
      const running = await this.select("status = 'running'", [], "order by id");
      return { running, slots: await this.slotsWhere("host is null or host = $1", [host]) };
    });
  }

  clock(): Promise<JournalClock> {
    // Once measured, the measurement the latest stamps and survey used, without waiting for the
    // connection: a worker asks as its try starts, when the database may be unreachable.
    return this.clockConnection ? Promise.resolve(this.measured) : this.read(() => this.freshClock());
  }

  /**
   * Heartbeats are stamped and judged on the database's clock, which every host shares, through an
   * offset measured here: the caller's `now` (which the contract suite injects) plus the offset, so
   * the records stay JavaScript's making and core's rules stay pure. Only heartbeats cross hosts:
   * a try's other instants (its start, timeout, history) are read back by the worker that wrote
   * them, on its own clock. `pg_postmaster_start_time()` comes with each measurement; a restart
   * ends every session, so whatever judges after one has measured again on a new connection.
   */
  private async freshClock(): Promise<JournalClock> {
    if (this.clockConnection !== this.client || performance.now() - this.clockAt >= CLOCK_EVERY_MS) await this.measureClock();
    return this.measured;
  }

  /** Offset = the database's clock_timestamp() − this host's clock at the round trip's midpoint, from the shortest of a few. */
  private async measureClock(): Promise<void> {
    const client = this.client;
    let best: { roundTripMs: number; offsetMs: number; startedAt: number } | null = null;
    for (let i = 0; i < CLOCK_SAMPLES; i += 1) {
      const sentAt = Date.now();
      const sent = performance.now();
      const row = (await this.query("select clock_timestamp() as now, pg_postmaster_start_time() as started")).rows[0];
      const roundTripMs = performance.now() - sent;
      if (best === null || roundTripMs < best.roundTripMs) {
        best = { roundTripMs, offsetMs: (row.now as Date).getTime() - (sentAt + roundTripMs / 2), startedAt: (row.started as Date).getTime() };
      }
    }
    const { offsetMs, startedAt } = best!;
    this.measured = { offsetMs: Math.abs(offsetMs) < CLOCK_DEAD_BAND_MS ? 0 : Math.round(offsetMs), startedAt };
    this.clockConnection = client;
    this.clockAt = performance.now();
  }

  /** `now` (the caller's clock) on the database's, for a heartbeat. */
  private async heartbeatAt(now: Date): Promise<string> {
    return new Date(now.getTime() + (await this.freshClock()).offsetMs).toISOString();
  }

  tryControl(id: string, lease: string): Promise<TryControl> {
    return this.read(async () => {
      const task = (await this.select("id = $1", [id]))[0];
      return { held: task !== undefined && isHeldBy(task, lease), cancelRequestedAt: task?.cancelRequestedAt ?? null };
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

  /** A first watcher of a kind (changes, a log): LISTEN for it, or poll with `?listen=off`. */
  private startHearing(): void {
    if (this.where.listen) void this.read(() => this.listen(this.client)).catch(() => this.listenAgainLater());
    else this.poll();
  }

  private stopPollingIfUnheard(): void {
    if (this.listeners.size === 0 && this.logListeners.size === 0) this.stopPolling();
  }

  /** LISTENs on `client` while someone watches; where PostgreSQL (or a pooler before it) refuses LISTEN, polls instead. */
  private async listen(client: pg.Client | null): Promise<void> {
    if (!client || this.polling) return;
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

  /** As watchChanges, for one task's log: its appends notify the log channel, which only log followers hear. */
  private listenLog(taskId: string, onNotice: () => void): { close(): void } {
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

  private tell(ids: readonly string[] | null): void {
    for (const listener of [...this.listeners]) listener(ids);
  }

  /** While someone listens, a connection lost between operations is made again soon, not at the next operation. */
  private listenAgainLater(pauseMs = 50): void {
    if (this.closed || (this.listeners.size === 0 && this.logListeners.size === 0)) return;
    setTimeout(
      () => void this.read(async () => undefined).catch(() => this.listenAgainLater(Math.min(pauseMs * 2, 2_000))),
      pauseMs * (0.5 + Math.random()),
    ).unref();
  }

  recover(now: Date, recovery: Recovery): Promise<RecoverResult> {
    return this.tx(async (changed) => {
      const result = await this.applyRecovery(changed, now, recovery);
      await this.release(changed, now);
      return result;
    });
  }

  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord | null> {
    return this.tx(async (changed) => {
      const task = await this.heldTask(id, lease);
      if (!task) return null;
      const ended = (await this.put(changed, [settle(task, outcome, now)]))[0]!;
      await this.release(changed, now);
      return ended;
    });
  }

  async cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null> {
    return (await this.cancelMany([id], now))[0]!;
  }

  /** Each of `ids` in one transaction, as the transaction has left it so far: `act`'s answer, or null for a missing one. */
  private async eachTask<R>(changed: Changed, ids: readonly string[], act: (task: TaskRecord) => Promise<R>): Promise<Array<R | null>> {
    const found = await this.lockTasks(ids);
    const results: Array<R | null> = [];
    for (const id of ids) {
      const task = changed.get(id) ?? found.get(id);
      results.push(task ? await act(task) : null);
    }
    return results;
  }

  cancelMany(ids: readonly string[], now: Date): Promise<Array<{ task: TaskRecord; effect: CancelEffect } | null>> {
    return this.tx(async (changed) => {
      const results = await this.eachTask(changed, ids, async (task) => {
        const next = cancel(task, now);
        return { task: next === task ? task : (await this.put(changed, [next]))[0]!, effect: cancelEffect(task) };
      });
      await this.release(changed, now);
      return results;
    });
  }

  async retry(id: string, now: Date): Promise<{ task: TaskRecord; queued: boolean } | null> {
    return (await this.retryMany([id], now))[0]!;
  }

  retryMany(ids: readonly string[], _now: Date): Promise<Array<{ task: TaskRecord; queued: boolean } | null>> {
    return this.tx((changed) =>
      this.eachTask(changed, ids, async (task) =>
        isFinal(task.status) ? { task: (await this.put(changed, [rerun(task)]))[0]!, queued: true } : { task, queued: false },
      ),
    );
  }

  remove(ids: readonly string[], now: Date): Promise<RemoveResult> {
    return this.tx(async (changed) => {
      const unique = [...new Set(ids)];
      const found = await this.lockTasks(unique);
      const missing = unique.filter((id) => !found.has(id));
      const running = unique.filter((id) => found.get(id)?.status === "running");
      if (missing.length > 0 || running.length > 0) return { removed: [], running, missing };
      await this.query(`delete from ${this.s}.tasks where id = any($1::bigint[])`, [unique]);
      for (const id of unique) changed.set(id, null);
      await this.release(changed, now, unique);
      return { removed: unique.map((id) => found.get(id)!), running, missing };
    });
  }

  removeFinished(olderThan: Date | null, _now: Date, options: { onlyIfOldestBefore?: Date } = {}): Promise<string[]> {
    return this.tx(async (changed) => {
      const { onlyIfOldestBefore } = options;
      if (onlyIfOldestBefore) {
        const oldest = await this.query(`select 1 from ${this.s}.tasks where status in ${FINALS_SQL} and finished_at < $1 limit 1`, [onlyIfOldestBefore]);
        if (oldest.rows.length === 0) return [];
      }
      const gone = await this.query(
        `delete from ${this.s}.tasks where status in ${FINALS_SQL} and ($1::timestamptz is null or finished_at < $1) returning id::text as id`,
        [olderThan],
      );
      const ids = gone.rows.map((r) => r.id as string);
      for (const id of ids) changed.set(id, null);
      return ids;
    });
  }

  fireSchedules(request: FireRequest, now: Date): Promise<TaskRecord[]> {
    return this.tx(async (changed) => {
      // One firing at a time: the states read here are the ones the tasks are made from.
      await this.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.where.schema, LOCK.schedules));
      const states = await this.readScheduleStates();
      const inputs = firedTasks(request.firings, states, now, request.onTimeMs);
      if (inputs.length === 0) return [];
      const ids = await this.nextIds(inputs.length);
      const created = await this.put(
        changed,
        inputs.map((input, i) => createTask(ids[i]!, input, now, maxTriesOf(input.retry))),
      );
      const next = firedStates(states, created);
      const names = Object.keys(next);
      await this.query(
        `insert into ${this.s}.schedules (name, slot, task_id) select * from unnest($1::text[], $2::text[], $3::text[])
         on conflict (name) do update set slot = excluded.slot, task_id = excluded.task_id`,
        [names, names.map((n) => next[n]!.slot), names.map((n) => next[n]!.taskId)],
      );
      return created;
    });
  }

  private async readScheduleStates(): Promise<Record<string, ScheduleState>> {
    const rows = await this.query(`select name, slot, task_id from ${this.s}.schedules`);
    return Object.fromEntries(rows.rows.map((r) => [r.name as string, { slot: r.slot as string, taskId: r.task_id as string }]));
  }

  scheduleStates(): Promise<Record<string, ScheduleState>> {
    return this.read(() => this.readScheduleStates());
  }

  pauseQueues(executors: readonly string[], paused: boolean): Promise<string[]> {
    return this.tx(async () => {
      if (paused) await this.query(`insert into ${this.s}.paused_queues (executor) select unnest($1::text[]) on conflict do nothing`, [executors]);
      else await this.query(`delete from ${this.s}.paused_queues where executor = any($1::text[])`, [executors]);
      return [...(await this.paused())].sort();
    });
  }

  pausedQueues(): Promise<string[]> {
    return this.read(async () => [...(await this.paused())].sort());
  }

  importTasks(copy: JournalCopy): Promise<{ clashes: string[] }> {
    return this.tx(async (changed) => {
      const ids = copy.tasks.map((t) => t.id);
      const found = await this.query(`select id::text as id from ${this.s}.tasks where id = any($1::bigint[]) order by id`, [ids]);
      if (found.rows.length > 0) return { clashes: found.rows.map((r) => r.id as string) };
      for (let at = 0; at < copy.tasks.length; at += 1000) await this.put(changed, copy.tasks.slice(at, at + 1000));
      // New ids come after the copied ones, and after any this journal handed out already.
      await this.query(
        `select setval(pg_get_serial_sequence('${this.s}.tasks', 'id'), greatest((select coalesce(max(id), 1) from ${this.s}.tasks), nextval(pg_get_serial_sequence('${this.s}.tasks', 'id'))))`,
      );
      await this.query(`insert into ${this.s}.paused_queues (executor) select unnest($1::text[]) on conflict do nothing`, [copy.pausedQueues]);
      const names = Object.keys(copy.schedules);
      await this.query(
        `insert into ${this.s}.schedules (name, slot, task_id) select * from unnest($1::text[], $2::text[], $3::text[])
         on conflict (name) do update set slot = excluded.slot, task_id = excluded.task_id`,
        [names, names.map((n) => copy.schedules[n]!.slot), names.map((n) => copy.schedules[n]!.taskId)],
      );
      return { clashes: [] };
    });
  }

  page(filter: PageFilter): Promise<TaskRecord[]> {
    return this.read(async () => {
      const { where, values } = filterSql(filter);
      const upTo = filter.offset + filter.limit;
      // Active tasks first, in the page's order (core's compareActiveOnPage), then the newest finished.
      const activeOrder = filter.order === "newest" ? "id desc" : "status in ('running', 'paused') desc, claim_rank, priority desc, claim_at nulls first, id";
      const active = await this.select(`${where} status not in ${FINALS_SQL}`, values, `order by ${activeOrder} limit ${upTo}`);
      active.sort(compareActiveOnPage(filter.order));
      const finals =
        active.length >= upTo
          ? []
          : await this.select(`${where} status in ${FINALS_SQL}`, values, `order by finished_at desc, id desc limit ${upTo - active.length}`);
      return [...active, ...finals].slice(filter.offset, upTo);
    });
  }

  stats(now: Date, minutes: number): Promise<StoreStats> {
    return this.read(async () => {
      const counts: ExecutorCounts = {};
      for (const row of (await this.query(`select executor, status, count(*)::int as n from ${this.s}.tasks group by executor, status`)).rows) {
        addCount(counts, row.executor, row.status, row.n);
      }
      const oldest = await this.query(`select min(record->>'createdAt') as at from ${this.s}.tasks where status = 'queued'`);
      const since = new Date(now.getTime() - minutes * 60_000);
      const finished = await this.query(`select finished_at from ${this.s}.tasks where status in ${FINALS_SQL} and finished_at >= $1`, [since]);
      return {
        counts,
        oldestQueuedAt: oldest.rows[0].at ?? null,
        finishedPerMinute: finishedPerMinute(
          finished.rows.map((r) => (r.finished_at as Date).getTime()),
          now.getTime(),
          minutes,
        ),
      };
    });
  }

  workerSlots(): Promise<WorkerSlot[]> {
    return this.read(async () => this.slotsWhere("true", []));
  }

  private async slotsWhere(where: string, values: unknown[]): Promise<WorkerSlot[]> {
    const rows = await this.query(`select slot, host, reserved_at, process from ${this.s}.slots where ${where} order by reserved_at, slot`, values);
    return rows.rows.map((r) => ({
      slot: r.slot,
      ...(r.host === null ? {} : { host: r.host }),
      reservedAt: (r.reserved_at as Date).toISOString(),
      process: r.process,
    }));
  }

  tickHolder(mutex: string): Promise<TickHolder | null> {
    return this.read(async () => (await this.query(`select holder from ${this.s}.tick where scope = $1`, [mutex])).rows[0]?.holder ?? null);
  }

  acquireTick(mutex: string, holder: TickHolder, vacated: TickHolder | null): Promise<TickHolder | null> {
    return this.tx(async () => {
      await this.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.where.schema, LOCK.tick));
      const current: TickHolder | undefined = (await this.query(`select holder from ${this.s}.tick where scope = $1`, [mutex])).rows[0]?.holder;
      if (current && !(vacated && isSameHolder(current, vacated))) return current;
      await this.query(`insert into ${this.s}.tick (scope, holder) values ($1, $2) on conflict (scope) do update set holder = excluded.holder`, [
        mutex,
        JSON.stringify(holder),
      ]);
      return null;
    });
  }

  releaseTick(mutex: string, holder: TickHolder): Promise<void> {
    return this.tx(async () => {
      const current: TickHolder | undefined = (await this.query(`select holder from ${this.s}.tick where scope = $1 for update`, [mutex])).rows[0]?.holder;
      if (current && isSameHolder(current, holder)) await this.query(`delete from ${this.s}.tick where scope = $1`, [mutex]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stopPolling();
    this.logListeners.clear();
    // Held-back ids are told before the connection goes: a watcher elsewhere would wait for its poll.
    if (this.heldBack.size > 0 && this.client) await this.sendHeldBack().catch(() => undefined);
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    await this.turn;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
