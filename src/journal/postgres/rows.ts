// Task records as rows of a PostgreSQL journal's tasks table, within the store's transactions:
// read and checked as every store reads them, locked, written back with every column derived from
// the record, and the tasks waiting for those a transaction ended told in it.
import { isFinal, type TaskRecord } from "../../core/task.ts";
import { type Ended, releaseDependents } from "../../core/transitions.ts";
import { JournalCorruptError } from "../../errors.ts";
import { checkTask } from "../record.ts";
import type { PgConnection } from "./connection.ts";
import { FINALS_SQL, upsertSql, upsertValues } from "./sql.ts";

/** The tasks an operation wrote (null: deleted), for its change notice and for releasing those waiting for them. */
export type Changed = Map<string, TaskRecord | null>;

interface TaskRow {
  record: TaskRecord;
}

export class PgRows {
  private readonly db: PgConnection;
  /** The table as named in messages. */
  private readonly shown: string;

  constructor(db: PgConnection, location: string) {
    this.db = db;
    this.shown = `${location} (${db.where.schema}.tasks)`;
  }

  private records(rows: readonly TaskRow[]): TaskRecord[] {
    return rows.map(({ record }) => {
      const problem = checkTask(record);
      if (problem) throw new JournalCorruptError(this.shown, `task ${JSON.stringify((record as { id?: unknown })?.id)}: ${problem}`);
      return record;
    });
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

  /** Writes records back (or inserts new ones): every column is derived from the record. */
  async put(changed: Changed, tasks: readonly TaskRecord[]): Promise<TaskRecord[]> {
    if (tasks.length === 0) return [];
    await this.db.query(upsertSql(this.db.s), upsertValues(tasks));
    for (const task of tasks) changed.set(task.id, task);
    return tasks.map((t) => structuredClone(t));
  }

  /** Tells the tasks waiting for those this operation ended (and `removed`), in the same transaction (core's releaseDependents). */
  async release(changed: Changed, now: Date, removed: readonly string[] = []): Promise<void> {
    const ended: Ended[] = removed.map((id) => ({ id, status: "removed" }));
    for (const [id, task] of changed) if (task && isFinal(task.status)) ended.push({ id, status: task.status });
    if (ended.length === 0) return;
    const waiting = await this.select(`waiting and status not in ${FINALS_SQL}`, [], "order by id for update");
    if (waiting.length > 0) await this.put(changed, releaseDependents(waiting, ended, now));
  }

  /** `count` new task ids from the table's sequence. */
  async nextIds(count: number): Promise<string[]> {
    if (count === 0) return [];
    const rows = await this.db.query(`select nextval(pg_get_serial_sequence('${this.db.s}.tasks', 'id'))::text as id from generate_series(1, $1)`, [count]);
    return rows.rows.map((r) => r.id as string);
  }
}
