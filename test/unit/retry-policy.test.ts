// Retry policies: tiers, exponential backoff with jitter, the --retry flag.
import { describe, expect, it } from "vitest";
import { maxTriesOf, normaliseRetry, parseRetryFlag, retryDelay, RetryPolicyError } from "../../src/core/retry-policy.ts";

describe("retry tiers", () => {
  it("uses each tier in order; maxTries counts the first try", () => {
    const policy = normaliseRetry([
      { tries: 2, interval: "1s" },
      { tries: 1, interval: "2s" },
    ]);
    expect(maxTriesOf(policy)).toBe(4);
    expect([1, 2, 3, 4].map((failed) => retryDelay(policy, failed))).toEqual([1000, 1000, 2000, null]);
  });

  it("parses --retry 3x1s,5x5s into the same tiers", () => {
    const policy = parseRetryFlag("3x1s,5x5s");
    expect(maxTriesOf(policy)).toBe(9);
    expect(retryDelay(policy, 3)).toBe(1000);
    expect(retryDelay(policy, 4)).toBe(5000);
    expect(retryDelay(policy, 9)).toBeNull();
    expect(() => parseRetryFlag("3 times")).toThrow(RetryPolicyError);
    expect(() => normaliseRetry([{ tries: 2, interval: "soon" }])).toThrow(/retry\[0\]\.interval/);
  });
});

describe("exponential backoff", () => {
  const policy = normaliseRetry({ tries: 8, backoff: "exponential", interval: "100ms", maxInterval: "1s" });

  it("doubles the interval and stops at maxInterval", () => {
    const upper = [1, 2, 3, 4, 5, 6, 7].map((failed) => retryDelay(policy, failed, () => 1));
    expect(upper).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(retryDelay(policy, 9, () => 1)).toBeNull();
  });

  it("jitters within the upper half, so successive intervals never shrink before the cap", () => {
    const lower = [1, 2, 3, 4, 5].map((failed) => retryDelay(policy, failed, () => 0));
    expect(lower).toEqual([50, 100, 200, 400, 500]);
    for (let failed = 1; failed < 7; failed++) {
      const highest = retryDelay(policy, failed, () => 0.999)!;
      const nextLowest = retryDelay(policy, failed + 1, () => 0)!;
      expect(nextLowest).toBeGreaterThanOrEqual(Math.min(highest, 500));
      expect(highest).toBeLessThanOrEqual(1000);
    }
  });
});
