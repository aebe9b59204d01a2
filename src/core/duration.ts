// Durations as people write them ("500ms", "30s", "10m", "2h", "7d") to milliseconds and back.
import ms from "ms";

const MAX_DURATION_MS = 366 * 24 * 3600 * 1000;

/** Parses a duration; returns undefined for anything that is not a positive, sane duration. */
export function tryParseDuration(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 && text <= MAX_DURATION_MS ? text : undefined;
  const trimmed = text.trim();
  // ms() also accepts "1y" and negative numbers; a task runner has no use for either.
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)?$/i.test(trimmed)) return undefined;
  const value = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : ms(trimmed as ms.StringValue);
  return typeof value === "number" && Number.isFinite(value) && value <= MAX_DURATION_MS ? value : undefined;
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
