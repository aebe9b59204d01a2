// The times people type for `--at`: checked field by field, because Date.parse rolls a date that
// does not exist over into the next month (2026-02-30 becomes March 2) instead of refusing it.
// Pure but for the local time zone, which a time without Z or an offset is read in.

const AT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?)?(Z|[+-]\d{2}:\d{2})?$/i;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * `2026-12-01T08:00[:00[.000]][Z|+01:00]`, or a date alone (midnight). Without Z or an offset it
 * is local time, a date alone included. Undefined for anything else, or a date or time that does
 * not exist.
 */
export function parseClockTime(text: string): number | undefined {
  const match = AT.exec(text.trim());
  if (!match) return undefined;
  const [, year, month, day, hour = "00", minute = "00", second = "00", fraction = "", zone = ""] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  if (zone.length > 1 && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59)) return undefined;
  const at = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone.toUpperCase()}`);
  if (Number.isNaN(at)) return undefined;
  // A local time skipped by a daylight-saving jump (02:30 on the night clocks go forward) does not
  // exist either; Date.parse moves it an hour on.
  const local = new Date(at);
  if (zone === "" && (local.getDate() !== d || local.getHours() !== h || local.getMinutes() !== mi)) return undefined;
  return at;
}
