// The command line: --baseline adds the baseline twin of each chosen channel, --mock-latency takes whole milliseconds.
import { describe, expect, it } from "vitest";
import { parseArgs } from "./config.mjs";
import { armOrder, phasesFor } from "./rounds.mjs";

describe("parseArgs", () => {
  it("adds internal@base and external_unsigned@base right after their chosen channels when --baseline is given", () => {
    const s = parseArgs(["--quick", "--arms", "bare,internal,external_unsigned", "--baseline", "HEAD~5"]);
    expect(s.baseline).toBe("HEAD~5");
    expect(s.arms).toEqual(["direct", "bare", "internal", "internal@base", "external_unsigned", "external_unsigned@base"]);
    expect(parseArgs(["--arms", "internal", "--baseline", "abc1234"]).arms).toEqual(["direct", "internal", "internal@base"]);
    expect(parseArgs(["--arms", "internal"]).arms).toEqual(["direct", "internal"]);
    expect(parseArgs(["--no-gateway", "--baseline", "HEAD~1"]).arms).not.toContain("internal@base");
  });

  it("sets the mock's latency for the measured phases, 0 by default", () => {
    expect(parseArgs([]).mockLatencyMs).toBe(0);
    expect(parseArgs(["--mock-latency", "60"]).mockLatencyMs).toBe(60);
    expect(() => parseArgs(["--mock-latency", "-1"])).toThrow(/whole number of milliseconds/);
    expect(() => parseArgs(["--baseline"])).toThrow(/needs a value/);
  });
});

describe("phasesFor", () => {
  it("puts the mock's latency into every measured phase, and none without the flag", () => {
    const phases = phasesFor(parseArgs(["--mock-latency", "60"]));
    expect(phases.map((p) => p.mock.latency_ms)).toEqual(phases.map(() => 60));
    expect(phases.find((p) => p.name === "stream20")!.mock).toMatchObject({ chunk_delay_ms: 20, latency_ms: 60 });
    expect(phasesFor(parseArgs([])).every((p) => !("latency_ms" in p.mock))).toBe(true);
  });
});

describe("armOrder", () => {
  const arms = ["direct", "bare", "internal", "internal@base", "external_unsigned", "external_unsigned@base"];

  it("rotates by one per round, as without a baseline", () => {
    expect(armOrder(["direct", "bare", "internal"], 1)).toEqual(["direct", "bare", "internal"]);
    expect(armOrder(["direct", "bare", "internal"], 2)).toEqual(["bare", "internal", "direct"]);
    expect(armOrder(arms, 3)).toEqual(["internal", "internal@base", "external_unsigned", "external_unsigned@base", "direct", "bare"]);
  });

  it("swaps each channel with its baseline twin every other round, so each runs first of the pair as often", () => {
    expect(armOrder(arms, 2)).toEqual(["bare", "internal@base", "internal", "external_unsigned@base", "external_unsigned", "direct"]);
    const firstOfPair = (round: number) => armOrder(arms, round).find((a) => a.startsWith("internal"));
    expect([1, 2, 3, 4].map(firstOfPair)).toEqual(["internal", "internal@base", "internal", "internal@base"]);
  });
});
