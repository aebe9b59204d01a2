import { describe, expect, it } from "vitest";
import { addSample, estimateRemainingMs, type ProgressSample } from "../../src/cli/output/eta.ts";

function series(points: [number, number][]): ProgressSample[] {
  return points.reduce<ProgressSample[]>((samples, [at, progress]) => addSample(samples, { at, progress }), []);
}

describe("ETA from the recent rate", () => {
  it("needs two samples a second apart and a positive rate", () => {
    expect(estimateRemainingMs([], 0)).toBeNull();
    expect(estimateRemainingMs(series([[0, 10]]), 0)).toBeNull();
    expect(
      estimateRemainingMs(
        series([
          [0, 10],
          [500, 20],
        ]),
        500,
      ),
    ).toBeNull();
    expect(
      estimateRemainingMs(
        series([
          [0, 10],
          [2000, 30],
        ]),
        2000,
      ),
    ).toBe(7000);
  });

  it("counts down between samples and goes quiet when overdue", () => {
    const samples = series([
      [0, 10],
      [2000, 30],
    ]);
    expect(estimateRemainingMs(samples, 3000)).toBe(6000);
    expect(estimateRemainingMs(samples, 9500)).toBeNull();
  });

  it("forgets the old rate but keeps one anchor, and restarts when progress goes back", () => {
    const slowThenFast = series([
      [0, 0],
      [10_000, 1],
      [30_000, 2],
      [31_000, 12],
      [32_000, 22],
    ]);
    expect(slowThenFast.map((s) => s.at)).toEqual([10_000, 30_000, 31_000, 32_000]);
    const retried = addSample(slowThenFast, { at: 33_000, progress: 5 });
    expect(retried).toEqual([{ at: 33_000, progress: 5 }]);
    expect(addSample(retried, { at: 34_000, progress: 5 })).toEqual(retried);
  });
});
