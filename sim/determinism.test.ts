// The simulation is a function of its seed: the same seed gives the same report, another seed another.
import { describe, expect, it } from "vitest";
import { runAll } from "./run.mjs";
import { SMALL, SMALL_SCALE } from "./testing.mjs";

function figures(seed: number) {
  const result = runAll({ scales: [SMALL_SCALE], overrides: { ...SMALL, seed } });
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
