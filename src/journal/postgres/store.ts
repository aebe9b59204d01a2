// The JournalStore contract on PostgreSQL: one row per task, the record as jsonb beside the columns
// the indexes and the claim need. Like the memory store it holds no rules: each operation reads its
// rows FOR UPDATE in one transaction, applies core/'s transitions, and writes them back, so both
// stores make the same records. What only SQL can do well is SQL's: the claim takes its candidates
// in claim order with SKIP LOCKED, so workers on many hosts never wait on each other's tasks, and a
// unique index on running serial keys makes "one at a time per key" the database's promise.
import type pg from "pg";
import { compareActiveOnPage, finalsWanted, listed } from "../../core/list-order.ts";
import {
  type Activity,
  type ActivityWindow,
  activityOf,
  addCount,
  endedTask,
  type ExecutorCounts,
  finishedPerMinute,
  noteQueued,
  type OldestQueued,
} from "../../core/stats.ts";
import type { Counters } from "../../core/counters.ts";
import type { TaskEvent } from "../../core/events.ts";
import { applyVerdict, isSameHolder, type JournalClock, type TickHolder } from "../../core/recovery.ts";
import { maxTriesOf } from "../../core/retry-policy.ts";
import { firedStates, firedTasks, type ScheduleState } from "../../core/schedule.ts";
import { concurrencyOf, createTask, isFinal, type NewTask, type TaskRecord, type WorkerRef } from "../../core/task.ts";
import {
  afterDependencies,
  cancel,
  cancelEffect,
  canGiveBack,
  claim,
  claimFilterOn,
  findKeyed,
  giveBack,
  isHeldBy,
  mayClaimAhead,
  pickFirst,
  withoutClashes,
  type KeyOutcome,
  promote,
  replaceKeyed,
  retryIn,
  type RetryResult,
  settle,
  type ClaimFilter,
  type TryOutcome,
} from "../../core/transitions.ts";
import { retirement, SLOT_RESERVATION_MS, wantsWorker, type WorkerSlot } from "../../core/workers.ts";
import { BadCursorError, LeaseLostError, TaskNotFoundError } from "../../errors.ts";
import { uniqueName } from "../../host/unique-name.ts";
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
  RemoveFinishedOptions,
  RemoveResult,
  RetireResult,
  SlotRequest,
  Survey,
  TaskReport,
  TryControl,
} from "../store.ts";
import type { TaskOutput } from "../task-output.ts";
import { PgClock } from "./clock.ts";
import { asUnavailable, connectOrSay, PgConnection } from "./connection.ts";
import { parsePgLocation, type PgLocation } from "./location.ts";
import { PgNotices } from "./notices.ts";
import { type Changed, PgRows } from "./rows.ts";
import { PgTaskOutput } from "./output.ts";
import { EVENT_DAYS, LOCK, lockKey, migrate, newerSchemaError, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { CLAIM_ORDER_SQL, FINALS_SQL, filterSql, notPausedSql, onHostSql, RUNNABLE_SQL } from "./sql.ts";

/**
 * Opens the store, connecting once (a database that refuses now fails the command at once, exit 3)
 * and migrating the schema. Later connections lost are made again by the operation that needs one,
 * with jittered backoff for up to `waitMs`.
 */
export async function openPgStore(url: string, waitMs: number): Promise<PgStore> {
  const location = parsePgLocation(url);
  const client = await connectOrSay(location);
  try {
    // A schema already at this version is used as it is: no lock to wait for, and nothing written, so
    // a read-only database (a standby) still serves the commands that only read.
    if ((await schemaVersion(client, location.schema)) !== SCHEMA_VERSION) await migrate(client, location.schema);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw asUnavailable(location, error);
  }
  return new PgStore(location, client, waitMs);
}

export class PgStore implements JournalStore {
  readonly location: string;
  /** The quoted schema name. */
  private readonly s: string;
  /** A task whose queue is not paused, as a WHERE clause. */
  private readonly notPausedSql: string;
  private readonly db: PgConnection;
  private readonly notices: PgNotices;
  private readonly clock_: PgClock;
  private readonly rows: PgRows;
  private readonly output: PgTaskOutput;

  constructor(where: PgLocation, client: pg.Client, waitMs: number) {
    this.notices = new PgNotices(where.schema, where.listen);
    this.db = new PgConnection(where, client, waitMs, this.notices);
    this.notices.attach(this.db);
    this.clock_ = new PgClock(this.db);
    this.location = where.shown;
    this.rows = new PgRows(this.db, this.location);
    this.s = this.db.s;
    this.notPausedSql = notPausedSql(this.s);
    const query = (text: string, values?: unknown[]) => this.db.query(text, values);
    this.output = new PgTaskOutput({
      s: this.s,
      shown: `${where.shown}${where.shown.includes("?") ? "&" : "?"}schema=${encodeURIComponent(where.schema)}`,
      logChannel: this.notices.logChannel,
      transaction: (work, sync) => this.tx(() => work(query), { sync }),
      read: (work) => this.read(() => work(query)),
      listenLog: (taskId, onNotice) => this.notices.listenLog(taskId, onNotice),
    });
  }

  /** The home is not used: a task's output lives in the database, beside the task. */
  taskOutput(_home: string): TaskOutput {
    return this.output;
  }

  /**
   * Runs `operation` as one transaction. Reports and a worker's slot bookkeeping may commit
   * asynchronously: lost in a crash of PostgreSQL, they cost a progress line or a slot pruned later.
   * Claims and ends never: a try whose end was lost would stay "running" under a worker that lives
   * and has moved on, and nothing would ever take it back. `coalesce`: the worker's hot path, whose
   * notices are coalesced (notices.ts).
   */
  private tx<T>(operation: (changed: Changed) => Promise<T>, options: { sync: boolean; coalesce?: boolean } = { sync: true }): Promise<T> {
    let changed: Changed = new Map();
    return this.db.transaction(
      async () => {
        changed = new Map();
        this.rows.begin();
        return operation(changed);
      },
      options.sync,
      {
        channel: this.notices.channel,
        payload: () => this.notices.payload(changed.keys(), options.coalesce === true),
        alongside: () => this.rows.alongside(),
      },
    );
  }

  private read<T>(operation: () => Promise<T>): Promise<T> {
    return this.db.serially(operation);
  }

  /** A read of several statements, seeing one moment (PgConnection.snapshot). */
  private readAtOnce<T>(operation: () => Promise<T>): Promise<T> {
    return this.db.snapshot(operation);
  }

  private async paused(): Promise<Set<string>> {
    return new Set((await this.db.query(`select executor from ${this.s}.paused_queues`)).rows.map((r) => r.executor as string));
  }

  private async applyRecovery(changed: Changed, now: Date, recovery: Recovery): Promise<RecoverResult> {
    const result: RecoverResult = { recovered: [], forced: [], promoted: [] };
    // Found before the verdicts, as the other stores do: a try recovered for a retry due at once is the next recovery's.
    const scheduled = await this.rows.select("status = 'scheduled' and next_run_at <= $1", [now], "order by id for update skip locked");
    const held = await this.rows.lock(recovery.verdicts.map((v) => v.id));
    const writes: TaskRecord[] = [];
    for (const { id, lease, verdict } of recovery.verdicts) {
      const task = held.get(id);
      if (!task || !isHeldBy(task, lease)) continue;
      // Written one by one, each followed by its recovery's count and event, in the order the other stores log them.
      const after = applyVerdict(task, verdict, now);
      await this.rows.put(changed, [after], now);
      if (verdict.kind !== "overdue") this.rows.recovered(after, now);
      (verdict.kind === "overdue" ? result.forced : result.recovered).push(id);
    }
    for (const task of scheduled) {
      const promoted = promote(task, now);
      if (promoted === task) continue;
      writes.push(promoted);
      result.promoted.push(task.id);
    }
    await this.rows.put(changed, writes, now);
    await this.pruneSlots(now, recovery.deadSlots);
    // Every recovery (a worker's, a tick's) removes the events past their time: an indexed look when there are none.
    await this.db.query(`delete from ${this.s}.events where at < $1`, [new Date(now.getTime() - EVENT_DAYS * 86_400_000)]);
    return result;
  }

  private async pruneSlots(now: Date, deadSlots: readonly string[]): Promise<void> {
    await this.db.query(`delete from ${this.s}.slots where (process is null and reserved_at <= $1) or slot = any($2::text[])`, [
      new Date(now.getTime() - SLOT_RESERVATION_MS),
      deadSlots,
    ]);
  }

  private async lockSlots(): Promise<void> {
    await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.slots));
  }

  private async reserveSlot(now: Date, request: SlotRequest): Promise<string | null> {
    await this.lockSlots();
    await this.pruneSlots(now, request.deadSlots);
    const counts = await this.db.query(
      `select count(*) filter (where host is null or host = $1)::int as on_host, count(*)::int as everywhere from ${this.s}.slots`,
      [request.host],
    );
    const { on_host: onHost, everywhere } = counts.rows[0];
    if (onHost >= request.maxWorkers) return null;
    // Only whether demand exceeds the live workers matters, so counting stops there (core's isDemand and hostDemand as SQL).
    const due = `${RUNNABLE_SQL} and ${this.notPausedSql}`;
    const demand = await this.db.query(
      `select (select count(*)::int from (select 1 from ${this.s}.tasks where status = 'running'
                 or (${due} and ${onHostSql("$3")}) limit $2) d) as claimable,
              (select count(*)::int from (select 1 from ${this.s}.tasks where (status = 'running' and record->'worker'->>'host' = $3)
                 or (${due} and pinned_host = $3) limit $4) l) as local`,
      [new Date(now.getTime() + request.scheduleWindowMs), everywhere * request.places + 1, request.host, onHost * request.places + 1],
    );
    const { claimable, local } = demand.rows[0];
    if (!wantsWorker(onHost, everywhere, request.maxWorkers, request.places, { claimable: claimable + (request.scheduleDue ? 1 : 0), local })) return null;
    const slot = uniqueName();
    await this.db.query(`insert into ${this.s}.slots (slot, host, reserved_at, process) values ($1, $2, $3, null)`, [slot, request.host, now]);
    return slot;
  }

  /**
   * Up to `count` runnable tasks in claim order (core's compareClaimOrder as an ORDER BY), locked,
   * passing over paused queues, busy serial keys, executors at their concurrency limit and the
   * filter's refusals: what core's pickFirst would pass over, so a limit counts only takeable tasks.
   */
  private async candidates(now: Date, count: number, filter: ClaimFilter | undefined, lock: boolean): Promise<TaskRecord[]> {
    return this.rows.select(
      `${RUNNABLE_SQL} and id <> all($2::bigint[]) and ($3::int is null or timeout_ms is null or timeout_ms <= $3)
       and ${this.notPausedSql} and ($4::text[] is null or executor = any($4::text[]))
       and (serial_key is null or serial_key not in (select serial_key from ${this.s}.tasks where status = 'running' and serial_key is not null))
       and (concurrency is null or concurrency > (select count(*) from ${this.s}.tasks r where r.status = 'running' and r.executor = ${this.s}.tasks.executor))
       and ${onHostSql("$5")}`,
      [now, filter?.excludeIds ?? [], filter?.maxTimeoutMs ?? null, filter?.executors ?? null, filter?.host ?? null],
      `order by ${CLAIM_ORDER_SQL} limit ${Math.max(1, Math.floor(count))}${lock ? " for update skip locked" : ""}`,
    );
  }

  enqueue(tasks: readonly NewTask[], now: Date, workers: SlotRequest | null): Promise<EnqueueResult> {
    return this.tx(async (changed) => {
      // Checked before anything changes: one missing id, nothing stored.
      const dependencies = await this.rows.lock([...new Set(tasks.flatMap((t) => t.after ?? []))]);
      for (const input of tasks) for (const id of input.after ?? []) if (!dependencies.has(id)) throw new TaskNotFoundError(id);
      const stored: TaskRecord[] = [];
      const outcomes: KeyOutcome[] = [];
      const create = (id: string, input: NewTask): TaskRecord => {
        const created = createTask(id, structuredClone(input), now, maxTriesOf(input.retry));
        const after = (input.after ?? []).map((d) => dependencies.get(d)!);
        return after.length > 0 ? afterDependencies(created, after, now) : created;
      };
      if (!tasks.some((t) => t.key !== undefined && t.key !== null)) {
        const ids = await this.rows.nextIds(tasks.length);
        stored.push(
          ...(await this.rows.put(
            changed,
            tasks.map((input, i) => create(ids[i]!, input)),
            now,
          )),
        );
        outcomes.push(...tasks.map(() => "created" as const));
      } else {
        // Keyed runs check and insert one at a time under one lock: 50 at once make one task, and a
        // bulk enqueue's later lines find the task its first line made.
        await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.keys));
        for (const input of tasks) {
          const existing = input.key === undefined || input.key === null ? [] : await this.keyHolders(input);
          const keyed = findKeyed(existing, input);
          if (keyed) {
            const { task, outcome } = replaceKeyed(keyed, structuredClone(input), now);
            stored.push(task === keyed ? task : (await this.rows.put(changed, [task], now))[0]!);
            outcomes.push(outcome);
            continue;
          }
          stored.push((await this.rows.put(changed, [create((await this.rows.nextIds(1))[0]!, input)], now))[0]!);
          outcomes.push("created");
        }
      }
      return { tasks: stored, outcomes, workerSlot: workers === null ? null : await this.reserveSlot(now, workers) };
    });
  }

  private async heldTask(id: string, lease: string): Promise<TaskRecord | null> {
    const task = (await this.rows.lock([id])).get(id);
    return task && isHeldBy(task, lease) ? task : null;
  }

  report(id: string, lease: string, report: TaskReport, now: Date): Promise<void> {
    return this.tx(
      async (changed) => {
        const task = await this.heldTask(id, lease);
        if (!task) throw new LeaseLostError(id);
        const attributes = report.attributes ? { ...task.attributes, ...report.attributes } : task.attributes;
        await this.rows.put(changed, [{ ...task, ...structuredClone(report), attributes, heartbeatAt: await this.clock_.heartbeatAt(now) }], now);
      },
      { sync: false, coalesce: true },
    );
  }

  settle(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord> {
    return this.tx(
      async (changed) => {
        const task = await this.heldTask(id, lease);
        if (!task) throw new LeaseLostError(id);
        const settled = (await this.rows.put(changed, [settle(task, outcome, now)], now))[0]!;
        await this.rows.release(changed, now);
        return settled;
      },
      { sync: true },
    );
  }

  exchange(worker: WorkerRef, now: Date, exchange: Exchange): Promise<ExchangeResult> {
    return this.tx(
      async (changed) => {
        const mine = await this.rows.lock([...exchange.ends.map((e) => e.id), ...exchange.giveBack.map((g) => g.id)]);
        const settled = exchange.ends.map((end) => {
          const task = mine.get(end.id);
          return task && isHeldBy(task, end.lease) ? settle(task, end.outcome, now) : null;
        });
        const returned = exchange.giveBack.flatMap(({ id, lease }) => {
          const task = mine.get(id);
          return task && isHeldBy(task, lease) && canGiveBack(task) ? [giveBack(task, now)] : [];
        });
        await this.rows.put(changed, [...settled.filter((t) => t !== null), ...returned], now);
        // Ends are recorded on a schema migrated past this build (their tries ran), but nothing new is taken on.
        if (this.db.schemaSeen > SCHEMA_VERSION) {
          await this.rows.release(changed, now);
          return { settled, next: [], recovered: null, stopClaiming: newerSchemaError(this.db.where.schema, this.db.schemaSeen).message };
        }
        const recovered = exchange.recovery ? await this.applyRecovery(changed, now, exchange.recovery) : null;
        await this.rows.release(changed, now);
        if (settled.includes(null) || exchange.claim < 1) return { settled, next: [], recovered };
        return { settled, next: await this.claimSome(changed, worker, now, exchange, claimFilterOn(worker.host, exchange.filter)), recovered };
      },
      { sync: true, coalesce: true },
    );
  }

  private async claimSome(changed: Changed, worker: WorkerRef, now: Date, exchange: Exchange, filter: ClaimFilter | undefined): Promise<TaskRecord[]> {
    const count = exchange.claim;
    const heartbeatAt = await this.clock_.heartbeatAt(now);
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
      await this.db.query("savepoint claim");
      try {
        return await this.rows.put(changed, next, now);
      } catch (error) {
        if ((error as { code?: string }).code !== "23505") throw error;
        await this.db.query("rollback to savepoint claim");
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
    await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.limits));
    const executors = [...new Set(picked.filter((task) => concurrencyOf(task) !== null).map((task) => task.executor))];
    const rows = await this.db.query(
      `select executor, count(*)::int as running from ${this.s}.tasks where status = 'running' and executor = any($1::text[]) group by executor`,
      [executors],
    );
    return withoutClashes(picked, new Map(rows.rows.map((row) => [row.executor as string, row.running as number])));
  }

  registerWorker(slot: string, worker: WorkerRef, now: Date): Promise<void> {
    return this.tx(
      async () => {
        await this.db.query(
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
        // retirement() needs only a runnable task, if any, and the scheduled task due first within
        // the window: one past due too, that a running try holds back (its executor's limit, its
        // serial key), so the running tries come too, for core's claim rules to see what holds it.
        const host: string | undefined = (await this.db.query(`select host from ${this.s}.slots where slot = $1`, [slot])).rows[0]?.host ?? undefined;
        const runnable = await this.candidates(now, 1, host === undefined ? undefined : { host }, false);
        const dueSoon = await this.rows.select(
          `status in ('scheduled', 'paused') and not waiting and next_run_at <= $1 and ${this.notPausedSql} and ${onHostSql("$2")}`,
          [new Date(now.getTime() + scheduleWindowMs), host ?? null],
          "order by next_run_at limit 1",
        );
        const running = dueSoon.length > 0 && runnable.length === 0 ? await this.rows.select("status = 'running'", []) : [];
        // Paused queues and tasks pinned elsewhere are passed over in both queries already.
        const result = retirement([...runnable, ...dueSoon, ...running], now, scheduleWindowMs, false);
        if (result.retired) await this.db.query(`delete from ${this.s}.slots where slot = $1`, [slot]);
        return result;
      },
      { sync: false },
    );
  }

  reserveWorker(now: Date, request: SlotRequest, releasing?: string): Promise<string | null> {
    return this.tx(async () => {
      if (releasing !== undefined) await this.db.query(`delete from ${this.s}.slots where slot = $1`, [releasing]);
      return this.reserveSlot(now, request);
    });
  }

  releaseWorker(slot: string): Promise<void> {
    return this.tx(async () => void (await this.db.query(`delete from ${this.s}.slots where slot = $1`, [slot])));
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.read(async () => (await this.rows.select("id = $1", [id]))[0] ?? null);
  }

  list(filter: ListFilter): Promise<TaskRecord[]> {
    return this.readAtOnce(async () => {
      const { where, values } = filterSql(filter);
      const limit = filter.limit === undefined ? "" : `limit ${Math.max(0, Math.floor(filter.limit))}`;
      // core's list priority (running and paused first, then by id), so a limit reads only what it keeps.
      const active = await this.rows.select(`${where} status not in ${FINALS_SQL}`, values, `order by status in ('running', 'paused') desc, id ${limit}`);
      const wanted = finalsWanted(active.length, filter.limit);
      const finals =
        wanted === 0
          ? []
          : await this.rows.select(
              `${where} status in ${FINALS_SQL}`,
              values,
              `order by finished_at desc, id desc ${Number.isFinite(wanted) ? `limit ${wanted}` : ""}`,
            );
      return listed(active, finals, filter.limit);
    });
  }

  survey(host: string): Promise<Survey> {
    return this.readAtOnce(async () => {
      // Measured first, on this connection: the caller judges what it reads here by clock().
      await this.clock_.fresh();
      const running = await this.rows.select("status = 'running'", [], "order by id");
      return { running, slots: await this.slotsWhere("host is null or host = $1", [host]) };
    });
  }

  tryControl(id: string, lease: string): Promise<TryControl> {
    return this.read(async () => {
      const task = (await this.rows.select("id = $1", [id]))[0];
      return { held: task !== undefined && isHeldBy(task, lease), cancelRequestedAt: task?.cancelRequestedAt ?? null };
    });
  }

  clock(): Promise<JournalClock> {
    return this.clock_.last ? Promise.resolve(this.clock_.last) : this.read(() => this.clock_.fresh());
  }

  watchChanges(onChange: ChangeListener): { close(): void } {
    return this.notices.watchChanges(onChange);
  }

  recover(now: Date, recovery: Recovery): Promise<RecoverResult> {
    return this.tx(async (changed) => {
      const result = await this.applyRecovery(changed, now, recovery);
      await this.rows.release(changed, now);
      return result;
    });
  }

  forceEnd(id: string, lease: string, outcome: TryOutcome, now: Date): Promise<TaskRecord | null> {
    return this.tx(async (changed) => {
      const task = await this.heldTask(id, lease);
      if (!task) return null;
      const ended = (await this.rows.put(changed, [settle(task, outcome, now)], now))[0]!;
      await this.rows.release(changed, now);
      return ended;
    });
  }

  async cancel(id: string, now: Date): Promise<{ task: TaskRecord; effect: CancelEffect } | null> {
    return (await this.cancelMany([id], now))[0]!;
  }

  /** Each of `ids` in one transaction, as the transaction has left it so far: `act`'s answer, or null for a missing one. */
  /** The tasks of this executor and key that are not final, locked (under LOCK.keys, as every caller is). */
  private keyHolders(task: Pick<TaskRecord, "executor" | "key">): Promise<TaskRecord[]> {
    return this.rows.select(`executor = $1 and dedupe_key = $2 and status not in ${FINALS_SQL}`, [task.executor, task.key], "for update");
  }

  private async eachTask<R>(changed: Changed, ids: readonly string[], act: (task: TaskRecord) => Promise<R>): Promise<Array<R | null>> {
    const found = await this.rows.lock(ids);
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
        return { task: next === task ? task : (await this.rows.put(changed, [next], now))[0]!, effect: cancelEffect(task) };
      });
      await this.rows.release(changed, now);
      return results;
    });
  }

  async retry(id: string, now: Date): Promise<RetryResult | null> {
    return (await this.retryMany([id], now))[0]!;
  }

  retryMany(ids: readonly string[], now: Date): Promise<Array<RetryResult | null>> {
    return this.tx(async (changed) => {
      // Under enqueue's lock of keys: a keyed run and the retry of a task of its key see each other.
      await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.keys));
      return this.eachTask(changed, ids, async (task) => {
        const holders = isFinal(task.status) && task.key !== null && task.key !== undefined ? await this.keyHolders(task) : [];
        const result = retryIn(task, holders, (queued) => queued);
        return result.queued ? { task: (await this.rows.put(changed, [result.task], now))[0]!, queued: true } : result;
      });
    });
  }

  remove(ids: readonly string[], now: Date): Promise<RemoveResult> {
    return this.tx(async (changed) => {
      const unique = [...new Set(ids)];
      const found = await this.rows.lock(unique);
      const missing = unique.filter((id) => !found.has(id));
      const running = unique.filter((id) => found.get(id)?.status === "running");
      if (missing.length > 0 || running.length > 0) return { removed: [], running, missing };
      await this.db.query(`delete from ${this.s}.tasks where id = any($1::bigint[])`, [unique]);
      for (const id of unique) changed.set(id, null);
      await this.rows.release(changed, now, unique);
      return { removed: unique.map((id) => found.get(id)!), running, missing };
    });
  }

  removeFinished(olderThan: Date | null, _now: Date, options: RemoveFinishedOptions = {}): Promise<string[]> {
    return this.tx(async (changed) => {
      const { onlyIfOldestBefore } = options;
      if (onlyIfOldestBefore) {
        const oldest = await this.db.query(`select 1 from ${this.s}.tasks where status in ${FINALS_SQL} and finished_at < $1 limit 1`, [onlyIfOldestBefore]);
        if (oldest.rows.length === 0) return [];
      }
      const gone = await this.db.query(
        `delete from ${this.s}.tasks where status in ${FINALS_SQL} and ($1::timestamptz is null or finished_at < $1) and ($2::text is null or executor = $2)
         returning id::text as id`,
        [olderThan, options.executor ?? null],
      );
      const ids = gone.rows.map((r) => r.id as string);
      for (const id of ids) changed.set(id, null);
      return ids;
    });
  }

  fireSchedules(request: FireRequest, now: Date): Promise<TaskRecord[]> {
    return this.tx(async (changed) => {
      // One firing at a time: the states read here are the ones the tasks are made from.
      await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.schedules));
      const states = await this.readScheduleStates();
      const inputs = firedTasks(request.firings, states, now, request.onTimeMs);
      if (inputs.length === 0) return [];
      const ids = await this.rows.nextIds(inputs.length);
      const created = await this.rows.put(
        changed,
        inputs.map((input, i) => createTask(ids[i]!, input, now, maxTriesOf(input.retry))),
        now,
      );
      const next = firedStates(states, created);
      const names = Object.keys(next);
      await this.db.query(
        `insert into ${this.s}.schedules (name, slot, task_id) select * from unnest($1::text[], $2::text[], $3::text[])
         on conflict (name) do update set slot = excluded.slot, task_id = excluded.task_id`,
        [names, names.map((n) => next[n]!.slot), names.map((n) => next[n]!.taskId)],
      );
      return created;
    });
  }

  private async readScheduleStates(): Promise<Record<string, ScheduleState>> {
    const rows = await this.db.query(`select name, slot, task_id from ${this.s}.schedules`);
    return Object.fromEntries(rows.rows.map((r) => [r.name as string, { slot: r.slot as string, taskId: r.task_id as string }]));
  }

  scheduleStates(): Promise<Record<string, ScheduleState>> {
    return this.read(() => this.readScheduleStates());
  }

  pauseQueues(executors: readonly string[], paused: boolean): Promise<string[]> {
    return this.tx(async () => {
      if (paused) await this.db.query(`insert into ${this.s}.paused_queues (executor) select unnest($1::text[]) on conflict do nothing`, [executors]);
      else await this.db.query(`delete from ${this.s}.paused_queues where executor = any($1::text[])`, [executors]);
      return [...(await this.paused())].sort();
    });
  }

  pausedQueues(): Promise<string[]> {
    return this.read(async () => [...(await this.paused())].sort());
  }

  importTasks(copy: JournalCopy): Promise<{ clashes: string[] }> {
    return this.tx(async (changed) => {
      const ids = copy.tasks.map((t) => t.id);
      const found = await this.db.query(`select id::text as id from ${this.s}.tasks where id = any($1::bigint[]) order by id`, [ids]);
      if (found.rows.length > 0) return { clashes: found.rows.map((r) => r.id as string) };
      for (let at = 0; at < copy.tasks.length; at += 1000) await this.rows.put(changed, copy.tasks.slice(at, at + 1000), null);
      // The copied tasks count as nothing new here: the source's counts come with them.
      this.rows.count(copy.counters);
      // New ids come after the copied ones, and after any this journal handed out already.
      await this.db.query(
        `select setval(pg_get_serial_sequence('${this.s}.tasks', 'id'), greatest((select coalesce(max(id), 1) from ${this.s}.tasks), nextval(pg_get_serial_sequence('${this.s}.tasks', 'id'))))`,
      );
      await this.db.query(`insert into ${this.s}.paused_queues (executor) select unnest($1::text[]) on conflict do nothing`, [copy.pausedQueues]);
      const names = Object.keys(copy.schedules);
      await this.db.query(
        `insert into ${this.s}.schedules (name, slot, task_id) select * from unnest($1::text[], $2::text[], $3::text[])
         on conflict (name) do update set slot = excluded.slot, task_id = excluded.task_id`,
        [names, names.map((n) => copy.schedules[n]!.slot), names.map((n) => copy.schedules[n]!.taskId)],
      );
      return { clashes: [] };
    });
  }

  page(filter: PageFilter): Promise<TaskRecord[]> {
    return this.readAtOnce(async () => {
      const { where, values } = filterSql(filter);
      const upTo = filter.offset + filter.limit;
      // Active tasks first, in the page's order (core's compareActiveOnPage), then the newest finished.
      const activeOrder = filter.order === "newest" ? "id desc" : `status in ('running', 'paused') desc, ${CLAIM_ORDER_SQL}`;
      const active = await this.rows.select(`${where} status not in ${FINALS_SQL}`, values, `order by ${activeOrder} limit ${upTo}`);
      active.sort(compareActiveOnPage(filter.order));
      const finals =
        active.length >= upTo
          ? []
          : await this.rows.select(`${where} status in ${FINALS_SQL}`, values, `order by finished_at desc, id desc limit ${upTo - active.length}`);
      return [...active, ...finals].slice(filter.offset, upTo);
    });
  }

  stats(now: Date, minutes: number): Promise<StoreStats> {
    return this.readAtOnce(async () => {
      const counts: ExecutorCounts = {};
      for (const row of (await this.db.query(`select executor, status, count(*)::int as n from ${this.s}.tasks group by executor, status`)).rows) {
        addCount(counts, row.executor, row.status, row.n);
      }
      const oldestQueued: OldestQueued = {};
      const oldest = await this.db.query(`select executor, min(record->>'createdAt') as at from ${this.s}.tasks where status = 'queued' group by executor`);
      for (const row of oldest.rows) noteQueued(oldestQueued, row.executor as string, row.at as string);
      const since = new Date(now.getTime() - minutes * 60_000);
      const finished = await this.db.query(`select finished_at from ${this.s}.tasks where status in ${FINALS_SQL} and finished_at >= $1`, [since]);
      return {
        counts,
        oldestQueued,
        finishedPerMinute: finishedPerMinute(
          finished.rows.map((r) => (r.finished_at as Date).getTime()),
          now.getTime(),
          minutes,
        ),
      };
    });
  }

  activity(now: Date, window: ActivityWindow): Promise<Activity> {
    return this.read(async () => {
      const since = new Date(now.getTime() - window.buckets * window.bucketMs);
      const ended = await this.db.query(
        `select executor, status, record->>'createdAt' as "createdAt", record->>'startedAt' as "startedAt", record->>'finishedAt' as "finishedAt"
         from ${this.s}.tasks where status in ${FINALS_SQL} and finished_at > $1 and finished_at <= $2`,
        [since, now],
      );
      return activityOf(ended.rows.map(endedTask), now.getTime(), window);
    });
  }

  counters(): Promise<Counters> {
    return this.read(() => this.rows.counters());
  }

  events(since: string | null, limit: number): Promise<TaskEvent[]> {
    if (since !== null && !/^(0|[1-9]\d{0,17})$/.test(since)) return Promise.reject(new BadCursorError(since, this.location));
    return this.read(async () => {
      const events = await this.rows.eventsAfter(since, limit);
      // A cursor past every number handed out is another journal's (a copy, one made again).
      if (events.length === 0 && since !== null && BigInt(since) > (await this.rows.lastEventNumber())) throw new BadCursorError(since, this.location);
      return events;
    });
  }

  workerSlots(): Promise<WorkerSlot[]> {
    return this.read(async () => this.slotsWhere("true", []));
  }

  private async slotsWhere(where: string, values: unknown[]): Promise<WorkerSlot[]> {
    const rows = await this.db.query(`select slot, host, reserved_at, process from ${this.s}.slots where ${where} order by reserved_at, slot`, values);
    return rows.rows.map((r) => ({
      slot: r.slot,
      ...(r.host === null ? {} : { host: r.host }),
      reservedAt: (r.reserved_at as Date).toISOString(),
      process: r.process,
    }));
  }

  tickHolder(mutex: string): Promise<TickHolder | null> {
    return this.read(async () => (await this.db.query(`select holder from ${this.s}.tick where scope = $1`, [mutex])).rows[0]?.holder ?? null);
  }

  acquireTick(mutex: string, holder: TickHolder, vacated: TickHolder | null): Promise<TickHolder | null> {
    return this.tx(async () => {
      await this.db.query("select pg_advisory_xact_lock($1, $2)", lockKey(this.db.where.schema, LOCK.tick));
      const current: TickHolder | undefined = (await this.db.query(`select holder from ${this.s}.tick where scope = $1`, [mutex])).rows[0]?.holder;
      if (current && !(vacated && isSameHolder(current, vacated))) return current;
      await this.db.query(`insert into ${this.s}.tick (scope, holder) values ($1, $2) on conflict (scope) do update set holder = excluded.holder`, [
        mutex,
        JSON.stringify(holder),
      ]);
      return null;
    });
  }

  releaseTick(mutex: string, holder: TickHolder): Promise<void> {
    return this.tx(async () => {
      const current: TickHolder | undefined = (await this.db.query(`select holder from ${this.s}.tick where scope = $1 for update`, [mutex])).rows[0]?.holder;
      if (current && isSameHolder(current, holder)) await this.db.query(`delete from ${this.s}.tick where scope = $1`, [mutex]);
    });
  }

  async close(): Promise<void> {
    await this.notices.close();
    await this.db.close();
  }
}
