// Arm statistics arithmetic (decay, cool-down, rewards) and the observations taken from a request's attempts.
import { describe, expect, it } from "vitest";
import { RoutingPolicySchema } from "../config/schemas";
import { applyObservation, decayFactor, EMPTY_ARM, rewardOf, viewOf, type LearningParams, type Observation } from "./arm-stats";
import { sampleBeta, seededRandom } from "./beta";
import { observationsOf } from "./rewards";

const T0 = Date.UTC(2030, 0, 1);
const params: LearningParams = { halfLifeMs: 60_000, cooldownFailures: 3, cooldownMs: 30_000 };
const obs = (success: boolean, at = T0, latencyMs = 100): Observation => ({ arm: "a", success, reward: success ? 1 : 0, latencyMs, at });

describe("decay", () => {
  it("halves the weight of past observations every half-life", () => {
    expect(decayFactor(60_000, 60_000)).toBeCloseTo(0.5, 12);
    expect(decayFactor(0, 60_000)).toBe(1);
    expect(decayFactor(-5, 60_000)).toBe(1);
    let s = applyObservation(EMPTY_ARM, obs(true), params);
    s = applyObservation(s, obs(false, T0 + 60_000), params);
    // 1 success worth 0.5 after a half-life, plus 1 fresh failure
    expect(s.n).toBeCloseTo(1.5, 12);
    expect(s.reward).toBeCloseTo(0.5, 12);
    expect(s.failures).toBeCloseTo(1, 12);
    expect(viewOf(s, T0 + 120_000, 60_000).n).toBeCloseTo(0.75, 12);
    // The mean is a ratio of sums decayed alike: reading later does not change it.
    expect(viewOf(s, T0 + 120_000, 60_000).mean).toBeCloseTo(1 / 3, 12);
  });

  it("an observation older than the arm's newest counts as of the newest (no negative decay)", () => {
    const late = applyObservation(applyObservation(EMPTY_ARM, obs(true, T0 + 10_000), params), obs(true, T0), params);
    expect(late.n).toBe(2);
    expect(late.updatedAt).toBe(T0 + 10_000);
  });
});

describe("cool-down", () => {
  it("N consecutive failures start it; a success in between resets the count", () => {
    let s = applyObservation(EMPTY_ARM, obs(false), params);
    s = applyObservation(s, obs(false), params);
    s = applyObservation(s, obs(true), params);
    expect(s.consecutiveFailures).toBe(0);
    for (let i = 0; i < 2; i++) s = applyObservation(s, obs(false, T0 + 1), params);
    expect(s.cooldownUntil).toBe(0);
    s = applyObservation(s, obs(false, T0 + 2), params);
    expect(s.cooldownUntil).toBe(T0 + 2 + 30_000);
    expect(s.consecutiveFailures).toBe(0);
    expect(viewOf(s, T0 + 30_001, 60_000).coolingDown).toBe(true);
    expect(viewOf(s, T0 + 30_002, 60_000).coolingDown).toBe(false);
  });

  it("0 failures disables it", () => {
    let s = EMPTY_ARM;
    for (let i = 0; i < 50; i++) s = applyObservation(s, obs(false), { ...params, cooldownFailures: 0 });
    expect(s.cooldownUntil).toBe(0);
  });
});

describe("rewards", () => {
  const policy = RoutingPolicySchema.parse({ latency_weight: 0.5, latency_target_ms: 1_000 });

  it("success * (1 - w * min(1, latency / target)); a failure is 0", () => {
    expect(rewardOf(true, 0, policy)).toBe(1);
    expect(rewardOf(true, 500, policy)).toBeCloseTo(0.75, 12);
    expect(rewardOf(true, 5_000, policy)).toBeCloseTo(0.5, 12);
    expect(rewardOf(false, 10, policy)).toBe(0);
    expect(rewardOf(true, 5_000, RoutingPolicySchema.parse({}))).toBe(1);
  });

  it("observations: calls made count, skipped targets and client errors do not, a broken stream is a failure", () => {
    const attempts = [
      { target: "a", status: 503, error: "upstream_error" as const, durationMs: 20 },
      { target: "a", error: "upstream_timeout" as const, durationMs: 3_000 },
      { target: "b", error: "circuit_open" as const, durationMs: 0 },
      { target: "c", error: "egress_denied" as const, durationMs: 0 },
      { target: "d", status: 400, error: "upstream_error" as const, durationMs: 5 },
      { target: "e", status: 429, error: "upstream_rate_limited" as const, durationMs: 5 },
      { target: "f", status: 200, durationMs: 500 },
    ];
    const out = observationsOf(attempts, "complete", policy, T0);
    expect(out.map((o) => [o.arm, o.success])).toEqual([
      ["a", false],
      ["a", false],
      ["e", false],
      ["f", true],
    ]);
    expect(out.at(-1)!.reward).toBeCloseTo(0.75, 12);
    const broken = observationsOf(attempts, "upstream_failed", policy, T0);
    expect(broken.at(-1)).toMatchObject({ arm: "f", success: false, reward: 0 });
    // A 2xx whose body broke off is a failure of the arm.
    expect(observationsOf([{ target: "g", status: 200, error: "upstream_error", durationMs: 9 }], "complete", policy, T0)[0]!.success).toBe(false);
  });
});

describe("Beta sampling", () => {
  it("matches the mean and variance of Beta(a, b)", () => {
    const random = seededRandom(11);
    for (const [a, b] of [[2, 5], [0.5, 0.5], [30, 3]] as const) {
      const xs = Array.from({ length: 20_000 }, () => sampleBeta(a, b, random));
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
      expect(mean).toBeCloseTo(a / (a + b), 2);
      expect(variance).toBeCloseTo((a * b) / ((a + b) ** 2 * (a + b + 1)), 2);
      expect(xs.every((x) => x >= 0 && x <= 1)).toBe(true);
    }
  });
});
