// Task records as rows of a PostgreSQL journal's tasks table, within the store's transactions:
// read and checked as every store reads them, locked, written back with every column derived from
// the record, and the tasks waiting for those a transaction ended told in it.
import { isFinal, type TaskRecord } from "../../core/task.ts";
import { type Ended, releaseDependents } from "../../core/transitions.ts";
import { JournalCorruptError } from "../../errors.ts";
import { addCounter, addCounters, type Counters, type Tally, tallyChange, tallyRecovery } from "../../core/counters.ts";
import { isNewEvent, type NewEvent, type TaskEvent } from "../../core/events.ts";
import { LOCK, lockKey } from "./schema.ts";
import { checkTask } from "../record.ts";
import type { PgConnection } from "./connection.ts";
import { FINALS_SQL, upsertSql, upsertValues } from "./sql.ts";

/** The tasks an operation wrote (null: deleted), for its change notice and for releasing those waiting for them. */
export type Changed = Map<string, TaskRecord | null>;

/** Rows per counter in the counters table: at most this many backends add to one counter without waiting. */
const COUNTER_SHARDS = 16;

interface TaskRow {
  record: TaskRecord;
}

export class PgRows {
  private readonly db: PgConnection;
  /** The table as named in messages. */
  private readonly shown: string;
  /**
   * Within a transaction (begin … end): each task as the transaction first read it, then as it
   * last wrote it, so a write is counted (core/counters.ts) from the record it replaces. Every write
   * of a task that exists follows a read of it in the same transaction (locked, or selected for a claim).
   */
  private seen: Map<string, TaskRecord> | null = null;
  /** What the transaction counted so far, and its events: sent with its commit token (alongside). */
  private tally: Tally = { counts: {}, events: [] };

  constructor(db: PgConnection, location: string) {
    this.db = db;
    this.shown = `${location} (${db.where.schema}.tasks)`;
  }

  private records(rows: readonly TaskRow[]): TaskRecord[] {
    return rows.map(({ record }) => {
      const problem = checkTask(record);
      if (problem) throw new JournalCorruptError(this.shown, `task ${JSON.stringify((record as { id?: unknown })?.id)}: ${problem}`);
      if (this.seen !== null && !this.seen.has(record.id)) this.seen.set(record.id, record);
      return record;
    });
  }

  /** A transaction starts (or starts again): nothing seen or counted yet. */
  begin(): void {
    this.seen = new Map();
    this.tally = { counts: {}, events: [] };
  }

  /** Adds `delta` to what this transaction counts. */
  count(delta: Counters): void {
    addCounters(this.tally.counts, delta);
  }

  /** A try whose worker died, taken back (as `after`): counted, and its event logged after those of its write. */
  recovered(after: TaskRecord, now: Date): void {
    tallyRecovery(this.tally, after, now);
  }

  /**
   * What this transaction counted and its events, as CTEs (parameters from $4: the connection sends
   * them with the commit token), or null when there are none. The transaction's bookkeeping ends here.
   *
   * Counter rows are spread over shards by backend, so that workers settling at once do not queue
   * on one row each (a scrape adds the shards up), and written in key order, so two transactions
   * never wait on each other crosswise.
   *
   * Events take their numbers under a lock held until the commit: events become visible in the
   * order of their numbers, so a reader that has seen number n has seen all before it (no gaps
   * behind a cursor), and a transaction that saw another's change numbers its events after it.
   */
  alongside(): { cte: string; values: unknown[] } | null {
    const { counts, events } = this.tally;
    this.seen = null;
    this.tally = { counts: {}, events: [] };
    const values: unknown[] = [];
    const param = (value: unknown) => {
      values.push(value);
      return `$${3 + values.length}`;
    };
    const ctes: string[] = [];
    const rows = Object.entries(counts)
      .flatMap(([executor, row]) => Object.entries(row).map(([name, n]) => ({ executor, name, n })))
      .filter((row) => row.n !== 0)
      .sort((a, b) => (a.executor === b.executor ? (a.name < b.name ? -1 : 1) : a.executor < b.executor ? -1 : 1));
    if (rows.length > 0) {
      const [executors, names, ns] = [param(rows.map((r) => r.executor)), param(rows.map((r) => r.name)), param(rows.map((r) => r.n))];
      ctes.push(`counted as (insert into ${this.db.s}.counters (shard, executor, name, value)
        select (pg_backend_pid() % ${COUNTER_SHARDS})::smallint, e, n, v from unnest(${executors}::text[], ${names}::text[], ${ns}::bigint[]) with ordinality as d(e, n, v, o) order by o
        on conflict (executor, name, shard) do update set value = ${this.db.s}.counters.value + excluded.value)`);
    }
    if (events.length > 0) {
      const [k1, k2] = lockKey(this.db.where.schema, LOCK.events);
      ctes.push(`numbered as (select pg_advisory_xact_lock(${k1}, ${k2})),
        evented as (insert into ${this.db.s}.events (at, event)
          select (e::jsonb->>'at')::timestamptz, e::jsonb from unnest(${param(events.map((e) => JSON.stringify(e)))}::text[]) with ordinality as d(e, o), numbered order by o)`);
    }
    return ctes.length > 0 ? { cte: ctes.join(", "), values } : null;
  }

  /** The events after number `after` (null: from the oldest kept), oldest first. */
  async eventsAfter(after: string | null, limit: number): Promise<TaskEvent[]> {
    const rows = await this.db.query(`select seq::text as cursor, event from ${this.db.s}.events where seq > $1 order by seq limit $2`, [after ?? "0", limit]);
    return rows.rows.map((row) => {
      if (!isNewEvent(row.event)) throw new JournalCorruptError(`${this.db.where.shown} (${this.db.where.schema}.events)`, `event ${row.cursor} is malformed`);
      return { ...(row.event as NewEvent), cursor: row.cursor as string };
    });
  }

  /** The last number handed to an event (0 before the first), whether or not its event is kept. */
  async lastEventNumber(): Promise<bigint> {
    const row = await this.db.query(`select coalesce(pg_sequence_last_value(pg_get_serial_sequence('${this.db.s}.events', 'seq')), 0)::text as n`);
    return BigInt(row.rows[0].n as string);
  }

  /** The counters table added up over its shards. */
  async counters(): Promise<Counters> {
    const counters: Counters = {};
    const rows = await this.db.query(`select executor, name, sum(value)::text as value from ${this.db.s}.counters group by executor, name`);
    for (const row of rows.rows) addCounter(counters, row.executor as string, row.name as string, Number(row.value));
    return counters;
  }

  async select(where: string, values: unknown[], tail = ""): Promise<TaskRecord[]> {
    return this.records((await this.db.query(`select record from ${this.db.s}.tasks where ${where} ${tail}`, values)).rows);
  }

  /** The tasks of `ids` that exist, locked FOR UPDATE in id order. */
  async lock(ids: readonly string[]): Promise<Map<string, TaskRecord>> {
    if (ids.length === 0) return new Map();
    const tasks = await this.select("id = any($1::bigint[])", [ids], "order by id for update");
    return new Map(tasks.map((t) => [t.id, t]));
  }

  /**
   * Writes records back (or inserts new ones): every column is derived from the record. Each
   * write is counted at `now` (null: an import, whose counts come with it), once it is made.
   */
  async put(changed: Changed, tasks: readonly TaskRecord[], now: Date | null): Promise<TaskRecord[]> {
    if (tasks.length === 0) return [];
    await this.db.query(upsertSql(this.db.s), upsertValues(tasks));
    for (const task of tasks) {
      if (now !== null) tallyChange(this.tally, this.seen?.get(task.id) ?? null, task, now);
      this.seen?.set(task.id, task);
      changed.set(task.id, task);
    }
    return tasks.map((t) => structuredClone(t));
  }

  /** Tells the tasks waiting for those this operation ended (and `removed`), in the same transaction (core's releaseDependents). */
  async release(changed: Changed, now: Date, removed: readonly string[] = []): Promise<void> {
    const ended: Ended[] = removed.map((id) => ({ id, status: "removed" }));
    for (const [id, task] of changed) if (task && isFinal(task.status)) ended.push({ id, status: task.status });
    if (ended.length === 0) return;
    const waiting = await this.select(`waiting and status not in ${FINALS_SQL}`, [], "order by id for update");
    if (waiting.length > 0) await this.put(changed, releaseDependents(waiting, ended, now), now);
  }

  /** `count` new task ids from the table's sequence. */
  async nextIds(count: number): Promise<string[]> {
    if (count === 0) return [];
    const rows = await this.db.query(`select nextval(pg_get_serial_sequence('${this.db.s}.tasks', 'id'))::text as id from generate_series(1, $1)`, [count]);
    return rows.rows.map((r) => r.id as string);
  }
}
