// core/retry-policy.ts: the retry shapes, normalised, and the wait before each next try.
import { describe, expect, it } from "vitest";
import { maxTriesOf, normaliseRetry, NO_RETRY, parseRetryFlag, retryDelay, RetryPolicyError } from "../../src/core/retry-policy.ts";

describe("normaliseRetry", () => {
  it("reads no retry, a count, one tier, a list of tiers and exponential backoff", () => {
    expect(normaliseRetry(undefined)).toEqual(NO_RETRY);
    expect(normaliseRetry(null)).toEqual(NO_RETRY);
    expect(normaliseRetry(3)).toEqual({ kind: "tiers", tiers: [{ retries: 3, intervalMs: 0 }] });
    expect(normaliseRetry({ tries: 3, interval: "1s" })).toEqual({ kind: "tiers", tiers: [{ retries: 3, intervalMs: 1000 }] });
    expect(normaliseRetry({ tries: 2, interval: 250, backoff: "fixed" })).toEqual({ kind: "tiers", tiers: [{ retries: 2, intervalMs: 250 }] });
    expect(
      normaliseRetry([
        { tries: 3, interval: "1s" },
        { tries: 5, interval: "5s" },
      ]),
    ).toEqual({
      kind: "tiers",
      tiers: [
        { retries: 3, intervalMs: 1000 },
        { retries: 5, intervalMs: 5000 },
      ],
    });
    expect(normaliseRetry({ tries: 8, backoff: "exponential", interval: "1s", maxInterval: "10m" })).toEqual({
      kind: "exponential",
      retries: 8,
      intervalMs: 1000,
      maxIntervalMs: 600_000,
    });
    expect(normaliseRetry({ tries: 2, backoff: "exponential" })).toMatchObject({ intervalMs: 1, maxIntervalMs: 3_600_000 });
  });

  it("names what is wrong", () => {
    const bad: Array<[unknown, RegExp]> = [
      [-1, /retry must be a whole number from 0 to 10000, got -1/],
      [1.5, /whole number/],
      [20_000, /whole number/],
      [{ tries: "3" }, /retry\.tries must be a whole number/],
      [{ tries: 3, interval: "soon" }, /retry\.interval "soon" is not a duration/],
      [{ tries: 3, backoff: "linear" }, /retry\.backoff must be "fixed" or "exponential", got "linear"/],
      [
        [
          { tries: 1, interval: "1s" },
          { tries: 2, interval: "1y" },
        ],
        /retry\[1\]\.interval "1y" is not a duration/,
      ],
      [[{ interval: "1s" }], /retry\[0\]\.tries must be a whole number/],
      ["3", /retry must be a number, an object or a list of tiers/],
      [{ tries: 3, interval: true }, /retry\.interval true is not a duration/],
      [{ tries: 3, intervall: "1s" }, /retry has an unknown key `intervall`; known keys: tries, interval, backoff, maxInterval/],
      [[{ tries: 1, interval: "1s", backoff: "fixed" }], /retry\[0\] has an unknown key `backoff`/],
      [[null], /retry\[0\] must be an object like/],
      [{ tries: 3, maxInterval: "1m" }, /retry\.maxInterval caps exponential backoff/],
      [{ tries: 3, backoff: "exponential", maxInterval: [] }, /retry\.maxInterval \[\] is not a duration/],
    ];
    for (const [input, message] of bad) {
      expect(() => normaliseRetry(input as never), JSON.stringify(input)).toThrow(RetryPolicyError);
      expect(() => normaliseRetry(input as never), JSON.stringify(input)).toThrow(message);
    }
  });
});

describe("parseRetryFlag", () => {
  it("reads tiers like 3x1s,5x5s", () => {
    expect(parseRetryFlag("3x1s,5x5s")).toEqual({
      kind: "tiers",
      tiers: [
        { retries: 3, intervalMs: 1000 },
        { retries: 5, intervalMs: 5000 },
      ],
    });
    expect(parseRetryFlag(" 2 x 500ms ")).toEqual({ kind: "tiers", tiers: [{ retries: 2, intervalMs: 500 }] });
  });

  it("refuses anything else, quoting the bad tier", () => {
    expect(() => parseRetryFlag("3x1s,lots")).toThrow('"lots" is not a retry tier like "3x1s"');
    expect(() => parseRetryFlag("x1s")).toThrow(RetryPolicyError);
    expect(() => parseRetryFlag("3x1y")).toThrow(/is not a duration/);
  });
});

describe("maxTriesOf and retryDelay", () => {
  const tiers = normaliseRetry([
    { tries: 2, interval: "1s" },
    { tries: 1, interval: "1m" },
  ]);

  it("counts the first try plus every retry", () => {
    expect(maxTriesOf(NO_RETRY)).toBe(1);
    expect(maxTriesOf(tiers)).toBe(4);
    expect(maxTriesOf(normaliseRetry({ tries: 5, backoff: "exponential" }))).toBe(6);
  });

  it("waits each tier's interval in turn, then gives up", () => {
    expect([1, 2, 3, 4, 5].map((failedTry) => retryDelay(tiers, failedTry))).toEqual([1000, 1000, 60_000, null, null]);
    expect(retryDelay(NO_RETRY, 1)).toBeNull();
  });

  it("backs off exponentially with jitter over the upper half, capped", () => {
    const policy = normaliseRetry({ tries: 10, backoff: "exponential", interval: "1s", maxInterval: "5s" });
    expect([1, 2, 3, 4].map((n) => retryDelay(policy, n, () => 0))).toEqual([500, 1000, 2000, 2500]);
    expect([1, 2, 3, 4].map((n) => retryDelay(policy, n, () => 1))).toEqual([1000, 2000, 4000, 5000]);
    expect(retryDelay(policy, 11, () => 0.5)).toBeNull();
    for (let i = 0; i < 100; i++) {
      const delay = retryDelay(policy, 3)!;
      expect(delay).toBeGreaterThanOrEqual(2000);
      expect(delay).toBeLessThanOrEqual(4000);
    }
  });
});
