// Durations as people write them ("500ms", "30s", "10m", "2h", "7d") to milliseconds and back.
import ms from "ms";
import { UsageError } from "../errors.ts";

const MAX_DURATION_MS = 366 * 24 * 3600 * 1000;

/** Parses a duration (as written in a file or definition: any value); undefined for anything that is not a positive, sane duration. */
export function tryParseDuration(text: unknown): number | undefined {
  if (typeof text !== "string" && typeof text !== "number") return undefined;
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 && text <= MAX_DURATION_MS ? text : undefined;
  const trimmed = text.trim();
  // ms() also accepts "1y" and negative numbers; a task runner has no use for either.
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)?$/i.test(trimmed)) return undefined;
  const value = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : ms(trimmed as ms.StringValue);
  return typeof value === "number" && Number.isFinite(value) && value <= MAX_DURATION_MS ? value : undefined;
}

/**
 * True for a number with no unit, which a duration typed on the command line may not be: a bare
 * "90" is 90 s to a pueue user and 90 ms to ms(), so bgtask refuses to guess. Zero is zero in any unit.
 */
export function lacksUnit(text: string): boolean {
  const trimmed = text.trim();
  return /^\d+(\.\d+)?$/.test(trimmed) && Number(trimmed) !== 0;
}

/** A duration typed on the command line, its unit required; `like` gives examples for the error sentence. */
export function parseDurationFlag(flag: string, text: string, like = '"30s", "10m" or "2h"'): number {
  const trimmed = text.trim();
  if (lacksUnit(trimmed)) {
    throw new UsageError(`${flag} "${trimmed}" has no unit: write ${trimmed}s for seconds (units: ms, s, m, h, d, w)`);
  }
  const value = tryParseDuration(trimmed);
  if (value === undefined) throw new UsageError(`${flag} "${text}" is not a duration like ${like}`);
  return value;
}

/** A duration from a caller that may give milliseconds or text with its unit ("10m"): a JavaScript caller of the client, or a flag. */
export function parseDurationOption(name: string, value: string | number): number {
  if (typeof value === "string") return parseDurationFlag(name, value);
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new UsageError(`${name} ${String(value)} is not a duration: give milliseconds from 0 to a year, or text like "10m"`);
  return ms;
}

export function formatDuration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)}ms`;
  const seconds = Math.round(msValue / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 ? ` ${seconds % 60}s` : ""}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${minutes % 60 ? ` ${minutes % 60}m` : ""}`;
  return `${Math.floor(hours / 24)}d`;
}
