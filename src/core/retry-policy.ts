// Retry policies: the shapes executors and config may write, normalised, and the interval
// before each next try. Pure.
import type { RetryPolicy } from "./task.ts";
import { lacksUnit, tryParseDuration } from "./duration.ts";

export type RetryInput =
  | number
  | { tries: number; interval?: string | number; backoff?: "fixed" | "exponential"; maxInterval?: string | number }
  | Array<{ tries: number; interval: string | number }>;

export const NO_RETRY: RetryPolicy = { kind: "tiers", tiers: [] };

/** Thrown with a sentence that names what is wrong; callers wrap it into their own error type. */
export class RetryPolicyError extends Error {}

function duration(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = tryParseDuration(value);
  if (parsed === undefined) throw new RetryPolicyError(`${what} ${JSON.stringify(value)} is not a duration like "500ms", "5s" or "10m"`);
  return parsed;
}

function count(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new RetryPolicyError(`${what} must be a whole number from 0 to 10000, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `value` as an object holding only `keys`: a misspelt key would otherwise be a setting silently not applied. */
function fields(value: unknown, keys: readonly string[], what: string, like: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RetryPolicyError(`${what} must be an object like ${like}, got ${JSON.stringify(value)}`);
  const unknown = Object.keys(value).find((key) => !keys.includes(key));
  if (unknown !== undefined) throw new RetryPolicyError(`${what} has an unknown key \`${unknown}\`; known keys: ${keys.join(", ")}`);
  return value as Record<string, unknown>;
}

const TIER = '{"tries": 3, "interval": "1s"}';

/** Normalises `retry` as written in a definition or config (any value: it is checked here). `tries` in a tier counts tries after the first. */
export function normaliseRetry(input: unknown): RetryPolicy {
  if (input === undefined || input === null) return NO_RETRY;
  if (typeof input === "number") return { kind: "tiers", tiers: [{ retries: count(input, "retry"), intervalMs: 0 }] };
  if (Array.isArray(input)) {
    return {
      kind: "tiers",
      tiers: input.map((entry, i) => {
        const tier = fields(entry, ["tries", "interval"], `retry[${i}]`, TIER);
        return { retries: count(tier.tries, `retry[${i}].tries`), intervalMs: duration(tier.interval, `retry[${i}].interval`, 0) };
      }),
    };
  }
  if (typeof input !== "object") throw new RetryPolicyError(`retry must be a number, an object or a list of tiers`);
  const policy = fields(input, ["tries", "interval", "backoff", "maxInterval"], "retry", TIER);
  const retries = count(policy.tries, "retry.tries");
  const intervalMs = duration(policy.interval, "retry.interval", 0);
  if (policy.backoff === "exponential") {
    const maxIntervalMs = duration(policy.maxInterval, "retry.maxInterval", 3_600_000);
    return { kind: "exponential", retries, intervalMs: Math.max(intervalMs, 1), maxIntervalMs };
  }
  if (policy.backoff !== undefined && policy.backoff !== "fixed") {
    throw new RetryPolicyError(`retry.backoff must be "fixed" or "exponential", got ${JSON.stringify(policy.backoff)}`);
  }
  if (policy.maxInterval !== undefined) throw new RetryPolicyError('retry.maxInterval caps exponential backoff: it needs "backoff": "exponential"');
  return { kind: "tiers", tiers: [{ retries, intervalMs }] };
}

/** Parses the `--retry 3x1s,5x5s` flag: tiers of `<tries>x<interval>`. */
export function parseRetryFlag(text: string): RetryPolicy {
  const tiers = text.split(",").map((part) => {
    const match = /^\s*(\d+)\s*x\s*(\S+)\s*$/.exec(part);
    if (!match) throw new RetryPolicyError(`"${part}" is not a retry tier like "3x1s"`);
    // As every duration typed on the command line: "3x1000" could mean 1000 ms or 1000 s.
    if (lacksUnit(match[2]!)) throw new RetryPolicyError(`"${part.trim()}" has an interval with no unit: write ${match[1]}x${match[2]}s for seconds`);
    return { tries: Number(match[1]), interval: match[2]! };
  });
  return normaliseRetry(tiers);
}

export function maxTriesOf(policy: RetryPolicy): number {
  if (policy.kind === "exponential") return 1 + policy.retries;
  return 1 + policy.tiers.reduce((sum, tier) => sum + tier.retries, 0);
}

/**
 * Milliseconds to wait after try number `failedTry` (1-based) failed, or null when no tries remain.
 * `random` supplies jitter for exponential backoff (full jitter over the upper half).
 */
export function retryDelay(policy: RetryPolicy, failedTry: number, random: () => number = Math.random): number | null {
  if (failedTry >= maxTriesOf(policy)) return null;
  if (policy.kind === "exponential") {
    const base = Math.min(policy.maxIntervalMs, policy.intervalMs * 2 ** (failedTry - 1));
    return Math.round(base / 2 + (random() * base) / 2);
  }
  let retryIndex = failedTry; // the retry about to happen, 1-based
  for (const tier of policy.tiers) {
    if (retryIndex <= tier.retries) return tier.intervalMs;
    retryIndex -= tier.retries;
  }
  return null;
}
