// The report's arithmetic on synthetic runs: added latency is arm minus direct of the same round,
// medians over rounds, the limit ratio, stream and format-transform figures, and the markdown.
import { describe, expect, it } from "vitest";
import { summarize, toMarkdown } from "./report.mjs";

const lat = (p50: number, p99: number) => ({ n: 100, p50, p90: p99, p99, max: p99, mean: p50 });
const SETTINGS = { rounds: 3, stream0: { chunks: 50 }, stream20: { chunks: 50 } };
// Per-round p50 at c=1 (ms): direct drifts with the machine; the arms add a fixed amount on top.
const DIRECT = [0.2, 0.3, 0.25];
const ADDED = { bare: 0.2, floor: 0.25, internal: 0.3, external: 0.5 } as const;

function records() {
  const out: object[] = [];
  for (let round = 1; round <= 3; round++) {
    const d = DIRECT[round - 1]!;
    const cpu = (runtime: number) => ({ runtime, mock: 50, generator: 30, database: 0 });
    const closed = (p50: number, rps: number) => ({ kind: "closed", requests: 100, ok: 100, non2xx: 0, errors: 0, timeouts: 0, rps, latencyMs: lat(p50, p50 * 2) });
    const stream = (ttfb: number, total: number) => ({ kind: "stream", ok: 10, errors: 0, ttfbMs: lat(ttfb, ttfb), gapMs: lat(0.01, 0.05), totalMs: lat(total, total) });
    for (const [arm, add] of [["direct", 0], ...Object.entries(ADDED)] as const) {
      const runtime = arm === "direct" ? 0 : arm === "bare" ? 100 : arm === "floor" ? 200 : 1000;
      for (const phase of ["c1", "c16", "c64"]) out.push({ round, phase, arm, cpuUsPerRequest: cpu(runtime), result: closed(d + add, 1000 - add * 1000 + round) });
      out.push({ round, phase: "rate500", arm, cpuUsPerRequest: cpu(runtime), result: { kind: "open", requests: 500, ok: 498, non2xx: 1, errors: 0, timeouts: 1, achievedRps: 498, latencyMs: lat(d + add, 5) } });
      out.push({ round, phase: "stream0", arm, cpuUsPerRequest: cpu(runtime * 5), result: stream(0.3 + add, 2 + add) });
      out.push({ round, phase: "stream20", arm, cpuUsPerRequest: cpu(runtime * 5), result: stream(0.3 + add, 1000 + add) });
    }
    // The Anthropic upstream costs 1 ms more over 50 chunks (20 µs per chunk) and 500 µs more CPU per stream.
    out.push({ round, phase: "stream0", arm: "direct_anthropic", cpuUsPerRequest: cpu(0), result: stream(0.4, 2.5) });
    out.push({ round, phase: "stream0", arm: "internal_anthropic", cpuUsPerRequest: cpu(5500), result: stream(0.4 + 0.3, 2.5 + 0.3 + 1) });
  }
  return out;
}

describe("summarize", () => {
  const summary = summarize(records(), SETTINGS, { memory: { gateway: { peakMb: 300, rssMb: 290 }, floor: { peakMb: 120, rssMb: 110 } }, generator: { signingUsPerRequest: 5 }, problems: [] });

  it("subtracts direct of the same round, then takes the median over rounds", () => {
    expect(summary.added.c1.internal.p50.median).toBeCloseTo(0.3);
    expect(summary.added.c1.external.p99.median).toBeCloseTo(1.0);
    expect(summary.added.c1.bare.p50.min).toBeCloseTo(0.2);
    expect(summary.absolute.c1.direct.p50.median).toBeCloseTo(0.25);
  });

  it("computes the limit ratio per channel, and the floor's, against the bare Worker", () => {
    expect(summary.limitRatio.floor.p50).toBeCloseTo(1.25);
    expect(summary.limitRatio.internal.p50).toBeCloseTo(1.5);
    expect(summary.limitRatio.external.p50).toBeCloseTo(2.5);
    expect(summary.limitRatio.internal.perRoundP50.median).toBeCloseTo(1.5);
  });

  it("reports throughput, fixed-rate failures and CPU per request", () => {
    expect(summary.throughput.bare.c16.median).toBeCloseTo(802);
    expect(summary.throughput.direct.saturation.median).toBe(1002);
    expect(summary.rate.rate500.internal).toMatchObject({ requests: 1500, ok: 1494, non2xx: 3, timeouts: 3 });
    expect(summary.cpu.internal.runtime.median).toBe(1000);
  });

  it("derives stream and format-transform costs", () => {
    expect(summary.stream.stream0.internal.ttfbAddedP50.median).toBeCloseTo(0.3);
    expect(summary.stream.stream0.internal_anthropic.totalAddedP50.median).toBeCloseTo(1.3);
    expect(summary.formatTransform.wallUsPerChunk.median).toBeCloseTo(20);
    expect(summary.formatTransform.cpuUsPerChunk.median).toBeCloseTo(10);
  });

  it("renders the tables and the ratio lines", () => {
    const md = toMarkdown(summary, { startedAt: "now", mode: "default", rounds: 3, runtime: "workerd", node: "v20", cpus: 2, loadavg: [0.5, 0.5, 0.5], loadavgAtEnd: [1, 1, 1] });
    expect(md).toContain("| gateway internal | 0.300 (0.300–0.300)");
    expect(md).toContain("**Limit ratio at c=1, gateway internal**: 1.50");
    expect(md).toContain("the body-reading floor alone measured 1.25");
    expect(md).toMatch(/^\| body-reading floor Worker \| 752 \|.*\| 200 \| 120 \|$/m);
    expect(md).toMatch(/\| body-reading floor Worker \| 0\.250 \(0\.250–0\.250\)/);
    expect(md).toContain("20.0 (20.0–20.0) µs wall time added per chunk");
    expect(md).toMatch(/\| direct to mock \| 1,002 \|/);
  });
});
