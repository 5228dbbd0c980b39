// The comparisons between arms of one run: the response cache's savings and each channel against its
// baseline commit (ratios within each round, the 5% tolerance, the verdict and the report's lines).
import { describe, expect, it } from "vitest";
import { armLabel } from "./arms.mjs";
import { summarize, toMarkdown } from "./report.mjs";
import { baselineComparison, cacheFigures } from "./report-compare.mjs";

const lat = (p50: number) => ({ n: 100, p50, p90: p50, p99: p50 * 2, max: p50 * 2, mean: p50 });
const run = (round: number, phase: string, arm: string, p50: number, rps: number, ok = 100) => ({
  round,
  phase,
  arm,
  cpuUsPerRequest: { runtime: 500, state: 100, mock: 10, generator: 10, database: 0 },
  result: { kind: "closed", requests: 100, ok, non2xx: 0, errors: 0, timeouts: 0, rps, latencyMs: lat(p50) },
});

/** Three rounds; `arms` gives each arm's p50 at c=1 (ms) and req/s at c=16 per round. */
function records(arms: Record<string, { p50: number[]; rps: number[] }>) {
  const out: ReturnType<typeof run>[] = [];
  for (let round = 1; round <= 3; round++) {
    for (const [arm, v] of Object.entries(arms)) {
      out.push(run(round, "c1", arm, v.p50[round - 1]!, 1000 / v.p50[round - 1]!));
      out.push(run(round, "c16", arm, v.p50[round - 1]! * 8, v.rps[round - 1]!));
    }
  }
  return out;
}

describe("cacheFigures", () => {
  it("takes a hit against direct and against a miss within each round (mock at 60 ms)", () => {
    const recs = records({
      direct: { p50: [60.3, 61.0, 60.5], rps: [250, 250, 250] },
      external_cache_hit: { p50: [1.1, 1.3, 1.2], rps: [9000, 9000, 9000] },
      external_cache_miss: { p50: [62.0, 62.4, 62.3], rps: [240, 240, 240] },
    });
    const c = cacheFigures(recs)!;
    expect(c.hitVsDirect.median).toBeCloseTo(-59.3);
    expect(c.hitVsDirect.min).toBeCloseTo(-59.7);
    expect(c.hitVsMiss.median).toBeCloseTo(-61.1);
    expect(c.missVsDirect.median).toBeCloseTo(1.7);
  });

  it("is null when the hit arm did not run, and skips rounds where an arm failed", () => {
    expect(cacheFigures(records({ direct: { p50: [1, 1, 1], rps: [1, 1, 1] } }))).toBeNull();
    const recs = records({ direct: { p50: [1, 1, 1], rps: [1, 1, 1] }, external_cache_hit: { p50: [2, 3, 4], rps: [1, 1, 1] } });
    recs.find((r) => r.round === 3 && r.phase === "c1" && r.arm === "direct")!.result.ok = 0;
    expect(cacheFigures(recs)!.hitVsDirect).toMatchObject({ n: 2, median: 1.5, max: 2 });
  });
});

describe("baselineComparison", () => {
  // internal: 2% slower at c=1, 3% more req/s (within); external: 10% slower, 20% fewer req/s (worse).
  const recs = records({
    direct: { p50: [0.2, 0.2, 0.2], rps: [5000, 5000, 5000] },
    internal: { p50: [1.02, 2.04, 1.53], rps: [1030, 1236, 1545] },
    "internal@base": { p50: [1.0, 2.0, 1.5], rps: [1000, 1200, 1500] },
    external_unsigned: { p50: [2.2, 2.2, 2.2], rps: [800, 800, 800] },
    "external_unsigned@base": { p50: [2.0, 2.0, 2.0], rps: [1000, 1000, 1000] },
  });
  const cmp = baselineComparison(recs)!;

  it("takes the ratio current / baseline within each round and judges it against 5%", () => {
    expect(cmp.internal!.p50C1!.ratio.median).toBeCloseTo(1.02);
    expect(cmp.internal!.p50C1!.verdict).toBe("within");
    expect(cmp.internal!.rpsC16!.ratio.median).toBeCloseTo(1.03);
    expect(cmp.internal!.rpsC16!.current.median).toBe(1236);
    expect(cmp.internal!.rpsC16!.baseline.median).toBe(1200);
    expect(cmp.internal!.rpsC16!.verdict).toBe("within");
    expect(cmp.external_unsigned!.p50C1!.verdict).toBe("worse");
    expect(cmp.external_unsigned!.rpsC16!.ratio.median).toBeCloseTo(0.8);
    expect(cmp.external_unsigned!.rpsC16!.verdict).toBe("worse");
  });

  it("calls a faster latency and a higher throughput better, not worse", () => {
    const faster = baselineComparison(records({ internal: { p50: [0.8, 0.8, 0.8], rps: [1200, 1200, 1200] }, "internal@base": { p50: [1, 1, 1], rps: [1000, 1000, 1000] } }))!;
    expect(faster.internal!.p50C1!.verdict).toBe("better");
    expect(faster.internal!.rpsC16!.verdict).toBe("better");
    expect(faster.external_unsigned).toBeUndefined();
  });

  it("is null without baseline arms", () => {
    expect(baselineComparison(records({ internal: { p50: [1, 1, 1], rps: [1, 1, 1] } }))).toBeNull();
  });

  it("labels the baseline arms with the short commit and writes one line per channel", () => {
    const meta = { startedAt: "now", mode: "quick", rounds: 3, runtime: "workerd", node: "v20", cpus: 2, loadavg: [1, 1, 1], loadavgAtEnd: [1, 1, 1], settings: { mockLatencyMs: 0 }, baseline: { ref: "HEAD~5", commit: "833efa3" + "0".repeat(33), short: "833efa3", subject: "Usage counted" } };
    expect(armLabel("internal@base", meta)).toBe("gateway internal @ 833efa3 (baseline)");
    const md = toMarkdown(summarize(recs, { rounds: 3, stream0: { chunks: 50 }, stream20: { chunks: 50 } }, { problems: [] }), meta);
    expect(md).toContain("| gateway internal @ 833efa3 (baseline) |");
    expect(md).toContain("Baseline: commit 833efa3 (`--baseline HEAD~5`: Usage counted)");
    expect(md).toContain("**Against the baseline 833efa3**, gateway internal: p50 at c=1 1.530 vs 1.500 ms, ratio 1.020 (per round 1.020–1.020; of the medians 1.020): within 5%; req/s at c=16 1236 vs 1200 req/s, ratio 1.030");
    expect(md).toMatch(/gateway external, unsigned key: p50 at c=1 2\.200 vs 2\.000 ms, ratio 1\.100 .*\*\*worse by 10\.0%\*\* \(not within 5%\); req\/s at c=16 800 vs 1000 req\/s, ratio 0\.800 .*\*\*worse by 20\.0%\*\*/);
  });
});
