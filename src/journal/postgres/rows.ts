// Task records as rows of a PostgreSQL journal's tasks table, within the store's transactions:
// read and checked as every store reads them, locked, written back with every column derived from
// the record, and the tasks waiting for those a transaction ended told in it.
import { isFinal, type TaskRecord } from "../../core/task.ts";
import { type Ended, releaseDependents } from "../../core/transitions.ts";
import { JournalCorruptError } from "../../errors.ts";
import { addCounter, addCounters, type Counters, countChange } from "../../core/counters.ts";
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
  /** What the transaction counted so far, written by writeCounts before it commits. */
  private counts: Counters = {};

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
    this.counts = {};
  }

  /** Adds `delta` to what this transaction counts. */
  count(delta: Counters): void {
    addCounters(this.counts, delta);
  }

  /**
   * What this transaction counted, as a CTE adding it to the counters table (parameters from $4:
   * the connection sends it with the commit token), or null when it counted nothing. The rows are
   * spread over shards by backend, so that workers settling at once do not queue on one row each
   * (a scrape adds the shards up), and written in key order, so two transactions never wait on
   * each other crosswise. The transaction's bookkeeping ends here.
   */
  countsStatement(): { cte: string; values: unknown[] } | null {
    const counts = this.counts;
    this.seen = null;
    this.counts = {};
    const rows = Object.entries(counts)
      .flatMap(([executor, row]) => Object.entries(row).map(([name, n]) => ({ executor, name, n })))
      .filter((row) => row.n !== 0)
      .sort((a, b) => (a.executor === b.executor ? (a.name < b.name ? -1 : 1) : a.executor < b.executor ? -1 : 1));
    if (rows.length === 0) return null;
    return {
      cte: `counted as (insert into ${this.db.s}.counters (shard, executor, name, value)
        select (pg_backend_pid() % ${COUNTER_SHARDS})::smallint, e, n, v from unnest($4::text[], $5::text[], $6::bigint[]) with ordinality as d(e, n, v, o) order by o
        on conflict (executor, name, shard) do update set value = ${this.db.s}.counters.value + excluded.value)`,
      values: [rows.map((r) => r.executor), rows.map((r) => r.name), rows.map((r) => r.n)],
    };
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
      if (now !== null) countChange(this.counts, this.seen?.get(task.id) ?? null, task, now);
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
