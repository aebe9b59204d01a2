// The SQL fragments the PostgreSQL store's operations share: core's rules where only SQL can apply
// them well (what a claim may take, in claim order; a list's filter), and a record's columns.
import { claimRank } from "../../core/transitions.ts";
import { concurrencyOf, FINAL_STATUSES, finishedTime, isFinal, keyOf, pinnedHostOf, priorityOf, type TaskRecord, waitingForOf } from "../../core/task.ts";
import type { ListFilter } from "../store.ts";

export const FINALS_SQL = `(${FINAL_STATUSES.map((s) => `'${s}'`).join(", ")})`;

/** A task a claim could take (core's isRunnable), as a WHERE clause. */
// The status list repeats tasks_ready's predicate word for word: with it PostgreSQL can walk that
// index in claim order and stop at the first rows that qualify; without it, it sorted every
// runnable record for each claim (a 10,000-task queue drained at 400/s, not 3,000/s).
export const RUNNABLE_SQL = `(not waiting and status in ('queued', 'scheduled', 'paused') and (status = 'queued' or next_run_at is null or next_run_at <= $1))`;

/** A task a worker on host `$n` may claim (core's isClaimableOn): pinned to it or to none; any task when `$n` is null. */
export const onHostSql = (n: string) => `(${n}::text is null or pinned_host is null or pinned_host = ${n})`;

/** A task whose queue is not paused, in schema `s` (quoted). */
export const notPausedSql = (s: string) => `executor not in (select executor from ${s}.paused_queues)`;

/** The claim order (core's compareClaimOrder) as an ORDER BY list. */
export const CLAIM_ORDER_SQL = "claim_rank, priority desc, claim_at nulls first, id";

/**
 * A list's or a page's filter as the start of a WHERE clause ("… and", or "" for none) and its
 * values: ids, statuses, executor, and a search that is an id or a piece of the message (core's matchesPage).
 */
export function filterSql(filter: Pick<ListFilter, "ids" | "statuses" | "executor" | "key"> & { search?: string }): { where: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(sql(`$${values.length}`));
  };
  if (filter.ids) add((n) => `id = any(${n}::bigint[])`, filter.ids);
  if (filter.statuses) add((n) => `status = any(${n}::text[])`, filter.statuses);
  if (filter.executor) add((n) => `executor = ${n}`, filter.executor);
  if (filter.key !== undefined) add((n) => `dedupe_key = ${n}`, filter.key);
  // core/list-order.ts's matchesPage: the id, or a piece of the message or of a string anywhere in the context.
  if (filter.search)
    add(
      (n) =>
        `(id::text = ${n} or strpos(lower(coalesce(record->>'message', '')), lower(${n})) > 0
          or exists (select 1 from jsonb_path_query(record->'context', 'strict $.**') as v(value)
                     where jsonb_typeof(v.value) = 'string' and strpos(lower(v.value #>> '{}'), lower(${n})) > 0))`,
      filter.search,
    );
  return { where: conditions.length > 0 ? `${conditions.join(" and ")} and` : "", values };
}

/** Inserts records into schema `s`'s tasks, or writes them over the rows of their ids: every column is derived from the record. */
export function upsertSql(s: string): string {
  return `insert into ${s}.tasks (id, executor, status, serial_key, lease, claim_rank, claim_at, next_run_at, finished_at, timeout_ms, record,
         priority, dedupe_key, waiting, concurrency, pinned_host)
       select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::int[], $11::jsonb[],
         $12::int[], $13::text[], $14::boolean[], $15::int[], $16::text[])
       on conflict (id) do update set executor = excluded.executor, status = excluded.status, serial_key = excluded.serial_key, lease = excluded.lease,
         claim_rank = excluded.claim_rank, claim_at = excluded.claim_at, next_run_at = excluded.next_run_at, finished_at = excluded.finished_at,
         timeout_ms = excluded.timeout_ms, record = excluded.record, priority = excluded.priority, dedupe_key = excluded.dedupe_key,
         waiting = excluded.waiting, concurrency = excluded.concurrency, pinned_host = excluded.pinned_host`;
}

/** upsertSql's values for `tasks`: one array per column. */
export function upsertValues(tasks: readonly TaskRecord[]): unknown[] {
  const column = <T>(f: (t: TaskRecord) => T) => tasks.map(f);
  return [
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
  ];
}
