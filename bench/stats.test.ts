// Percentiles, medians and spreads the benchmark reports.
import { describe, expect, it } from "vitest";
import { acrossRounds, median, percentileSorted, ratio, summarize } from "./stats.mjs";

describe("stats", () => {
  it("takes nearest-rank percentiles", () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentileSorted(sorted, 50)).toBe(50);
    expect(percentileSorted(sorted, 99)).toBe(99);
    expect(percentileSorted(sorted, 100)).toBe(100);
    expect(percentileSorted([7], 99)).toBe(7);
    expect(percentileSorted([], 50)).toBeNaN();
  });

  it("summarizes unsorted samples with fractional values", () => {
    const s = summarize([0.3, 0.1, 0.2, 10]);
    expect(s).toMatchObject({ n: 4, p50: 0.2, p99: 10, max: 10 });
    expect(s.mean).toBeCloseTo(2.65);
  });

  it("medians odd and even counts and ignores NaN", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN, 5])).toBe(5);
    expect(median([])).toBeNaN();
  });

  it("reports the spread across rounds", () => {
    expect(acrossRounds([0.4, NaN, 0.2, 0.3])).toEqual({ median: 0.3, min: 0.2, max: 0.4, n: 3 });
  });

  it("refuses a ratio over a non-positive floor", () => {
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeNaN();
    expect(ratio(3, -0.1)).toBeNaN();
  });
});
