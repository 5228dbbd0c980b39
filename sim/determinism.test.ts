// The simulation is a function of its seed: the same seed gives the same report, another seed another.
import { describe, expect, it } from "vitest";
import { runAll } from "./run.mjs";

/** A small world (2,000 requests per second, 12 s) with the whole scenario squeezed into it. */
export const SMALL = {
  seconds: 12,
  warmupSeconds: 4,
  batch: 1,
  storm: { upstream: 0, from: 5, to: 9 },
  cutoff: { region: "apac", from: 6, to: 9 },
  shift: { tenantRank: 2, fromRegion: "apac", toRegion: "weur", at: 9 },
};

function figures(seed: number) {
  const result = runAll({ scales: [0.02], overrides: { ...SMALL, seed } });
  // Wall-clock times are the only thing a seed does not fix.
  const summaries = result.summaries.map(({ wallSeconds, ...rest }: { wallSeconds: number }) => rest);
  return { summaries, text: result.text.split("\n").slice(1).join("\n") };
}

describe("determinism by seed", { timeout: 120_000 }, () => {
  it("the same seed gives an identical report; another seed a different one", () => {
    const a = figures(7);
    const b = figures(7);
    const c = figures(8);
    expect(b.summaries).toEqual(a.summaries);
    expect(b.text).toBe(a.text);
    expect(c.summaries).not.toEqual(a.summaries);
    // The report is about something: traffic was served and the objects were called.
    const today = a.summaries.find((s: { design: string }) => s.design === "today");
    expect(today.requests).toBeGreaterThan(20_000);
    expect(today.busiest.TenantGuard.peak).toBeGreaterThan(0);
    expect(a.text).toMatch(/over-admitted requests: \d+$/);
  });
});
