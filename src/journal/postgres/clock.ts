// The database's clock as this host sees it. Heartbeats are stamped and judged on the database's
// clock, which every host shares, through an offset measured here: the caller's `now` (which the
// contract suite injects) plus the offset, so the records stay JavaScript's making and core's rules
// stay pure. Only heartbeats cross hosts: a try's other instants (its start, timeout, history) are
// read back by the worker that wrote them, on its own clock. `pg_postmaster_start_time()` comes
// with each measurement; a restart ends every session, so whatever judges after one has measured
// again on a new connection.
import { type JournalClock, LOCAL_CLOCK } from "../../core/recovery.ts";
import type { PgConnection } from "./connection.ts";

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

export class PgClock {
  private readonly db: PgConnection;
  /** The clock as last measured, on `measuredOn`, at `measuredAt` (performance.now()). */
  private measured: JournalClock = LOCAL_CLOCK;
  private measuredOn: unknown = null;
  private measuredAt = 0;

  constructor(db: PgConnection) {
    this.db = db;
  }

  /** Once measured, the measurement the latest stamps and surveys used, without waiting for the connection (the database may be unreachable). */
  get last(): JournalClock | null {
    return this.measuredOn === null ? null : this.measured;
  }

  /** The clock, measured again when the connection changed or the last measurement is old. Within an operation. */
  async fresh(): Promise<JournalClock> {
    if (this.measuredOn !== this.db.current || performance.now() - this.measuredAt >= CLOCK_EVERY_MS) await this.measure();
    return this.measured;
  }

  /** `now` (the caller's clock) on the database's, for a heartbeat. Within an operation. */
  async heartbeatAt(now: Date): Promise<string> {
    return new Date(now.getTime() + (await this.fresh()).offsetMs).toISOString();
  }

  /** Offset = the database's clock_timestamp() − this host's clock at the round trip's midpoint, from the shortest of a few. */
  private async measure(): Promise<void> {
    const connection = this.db.current;
    let best: { roundTripMs: number; offsetMs: number; startedAt: number } | null = null;
    for (let i = 0; i < CLOCK_SAMPLES; i += 1) {
      const sentAt = Date.now();
      const sent = performance.now();
      const row = (await this.db.query("select clock_timestamp() as now, pg_postmaster_start_time() as started")).rows[0];
      const roundTripMs = performance.now() - sent;
      if (best === null || roundTripMs < best.roundTripMs) {
        best = { roundTripMs, offsetMs: (row.now as Date).getTime() - (sentAt + roundTripMs / 2), startedAt: (row.started as Date).getTime() };
      }
    }
    const { offsetMs, startedAt } = best!;
    this.measured = { offsetMs: Math.abs(offsetMs) < CLOCK_DEAD_BAND_MS ? 0 : Math.round(offsetMs), startedAt };
    this.measuredOn = connection;
    this.measuredAt = performance.now();
  }
}
