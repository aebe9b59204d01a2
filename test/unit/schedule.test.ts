// The schedule rules of core/schedule.ts, with the clock passed in: which slots are due after the
// last one fired, the on-time and catch-up windows, a first firing, and what docs/schedules.md
// promises about daylight saving in Europe/Berlin; and journals written before schedules still read.
import { describe, expect, it } from "vitest";
import { NO_RETRY } from "../../src/core/retry-policy.ts";
import { cronProblem, dueSlots, nextSlot, ON_TIME_MS, type Schedule } from "../../src/core/schedule.ts";
import { createTask, publicRecord, type TaskRecord } from "../../src/core/task.ts";
import { checkDoc, checkTask, emptyDoc } from "../../src/journal/file/schema.ts";

const every = (cron: string, extra: Partial<Schedule> = {}) => ({ cron, timezone: null, catchUpMs: null, ...extra });
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const at = (text: string) => new Date(text);

describe("dueSlots", () => {
  it("fires every slot after the last one fired up to now, within the on-time window", () => {
    const slots = dueSlots(every("*/10 * * * * *"), "2026-01-01T00:00:00.000Z", at("2026-01-01T00:00:35.000Z"));
    expect(iso(slots)).toEqual(["2026-01-01T00:00:10.000Z", "2026-01-01T00:00:20.000Z", "2026-01-01T00:00:30.000Z"]);
    expect(dueSlots(every("*/10 * * * * *"), "2026-01-01T00:00:30.000Z", at("2026-01-01T00:00:35.000Z"))).toEqual([]);
  });

  it("skips slots missed by more than the on-time window unless catchUp covers them", () => {
    const last = "2026-01-01T00:00:00.000Z";
    const now = at("2026-01-01T06:00:00.000Z");
    expect(iso(dueSlots(every("0 * * * *"), last, now))).toEqual(["2026-01-01T06:00:00.000Z"]);
    expect(iso(dueSlots(every("0 * * * *", { catchUpMs: 2 * 3600_000 }), last, now))).toEqual([
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T05:00:00.000Z",
      "2026-01-01T06:00:00.000Z",
    ]);
    expect(dueSlots(every("0 * * * *"), last, at("2026-01-01T05:58:00.000Z"), 60_000)).toEqual([]);
    expect(ON_TIME_MS).toBe(90_000);
  });

  it("a schedule never fired fires only its latest slot within the on-time window", () => {
    expect(iso(dueSlots(every("*/10 * * * * *", { catchUpMs: 3600_000 }), null, at("2026-01-01T00:01:05.000Z")))).toEqual(["2026-01-01T00:01:00.000Z"]);
    expect(dueSlots(every("0 3 * * *"), null, at("2026-01-01T12:00:00.000Z"))).toEqual([]);
  });
});

describe("time zones and daylight saving (Europe/Berlin)", () => {
  const berlin = (cron: string) => ({ cron, timezone: "Europe/Berlin" });

  it("02:30 on the spring-forward day does not exist: it runs once, at 03:00 CEST", () => {
    expect(nextSlot(berlin("30 2 * * *"), at("2026-03-28T12:00:00Z"))!.toISOString()).toBe("2026-03-29T01:00:00.000Z");
    expect(nextSlot(berlin("30 2 * * *"), at("2026-03-29T01:00:00Z"))!.toISOString()).toBe("2026-03-30T00:30:00.000Z");
  });

  it("02:30 on the fall-back day happens twice: it runs once, at the first (CEST)", () => {
    expect(nextSlot(berlin("30 2 * * *"), at("2026-10-24T12:00:00Z"))!.toISOString()).toBe("2026-10-25T00:30:00.000Z");
    expect(nextSlot(berlin("30 2 * * *"), at("2026-10-25T00:30:00Z"))!.toISOString()).toBe("2026-10-26T01:30:00.000Z");
  });

  it("01:30 on the fall-back day runs once, at 01:30 CEST", () => {
    expect(nextSlot(berlin("30 1 * * *"), at("2026-10-24T12:00:00Z"))!.toISOString()).toBe("2026-10-24T23:30:00.000Z");
    expect(nextSlot(berlin("30 1 * * *"), at("2026-10-24T23:30:00Z"))!.toISOString()).toBe("2026-10-26T00:30:00.000Z");
  });

  it("a half-hourly schedule runs in both passes of the repeated hour, and not in the skipped one", () => {
    const fallBack = dueSlots({ ...berlin("*/30 * * * *"), catchUpMs: 3 * 3600_000 }, "2026-10-24T23:45:00.000Z", at("2026-10-25T02:00:00Z"));
    expect(iso(fallBack)).toEqual([
      "2026-10-25T00:00:00.000Z",
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T01:30:00.000Z",
      "2026-10-25T02:00:00.000Z",
    ]);
    const spring = dueSlots({ ...berlin("*/30 * * * *"), catchUpMs: 3 * 3600_000 }, "2026-03-29T00:15:00.000Z", at("2026-03-29T01:30:00Z"));
    // 00:30 UTC is 01:30 CET; 01:00 UTC is already 03:00 CEST.
    expect(iso(spring)).toEqual(["2026-03-29T00:30:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T01:30:00.000Z"]);
  });
});

describe("cronProblem", () => {
  it("takes 5 or 6 fields and words what is wrong with others", () => {
    expect(cronProblem("0 3 * * *", null)).toBeNull();
    expect(cronProblem("*/2 * * * * *", "Europe/Berlin")).toBeNull();
    expect(cronProblem("0 3 * *", null)).toBe('"0 3 * *" has 4 fields; write 5 (minute hour day month weekday) or 6 (seconds first)');
    expect(cronProblem("@daily", null)).toMatch(/has 1 field;/);
    expect(cronProblem("61 * * * *", null)).toBe('"61 * * * *" is not a cron expression: Invalid value for minute: 61');
  });
});

describe("journal records with schedules", () => {
  const record = () => createTask("7", { executor: "x", context: {}, serialKey: null, retry: NO_RETRY, timeoutMs: null, runAt: null }, new Date(0), 1);

  it("a task written before schedules (no `schedule`) still reads, and prints `schedule: null`", () => {
    const { schedule: _schedule, ...old } = record();
    expect(checkTask(old)).toBeNull();
    expect(publicRecord(old as TaskRecord).schedule).toBeNull();
    expect(checkTask({ ...record(), schedule: { name: "nightly", slot: "2026-01-01T03:00:00.000Z" } })).toBeNull();
    expect(checkTask({ ...record(), schedule: { name: 1 } })).not.toBeNull();
  });

  it("a journal written before schedules (no `schedules`) still reads; malformed states do not", () => {
    expect(checkDoc(emptyDoc())).toBeNull();
    expect(checkDoc({ ...emptyDoc(), schedules: { nightly: { slot: "2026-01-01T03:00:00.000Z", taskId: "7" } } })).toBeNull();
    expect(checkDoc({ ...emptyDoc(), schedules: { nightly: { slot: 3 } } })).not.toBeNull();
  });
});
