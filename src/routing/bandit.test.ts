// The bandit strategies on simulated traffic (src/routing/simulation.ts: the production ordering, reward,
// decay and cool-down code with a fake clock and a statistics snapshot refreshed once per simulated
// second): convergence, following a degrading arm, cool-down, and the degrade to static weights.
import { describe, expect, it } from "vitest";
import { RoutingPolicySchema } from "../config/schemas";
import { EMPTY_ARM, type RouteStats } from "./arm-stats";
import { orderTier, weightedOrder } from "./bandit";
import { seededRandom } from "./beta";
import { requestsUntilMovedAway, shareOf, simArmPreset, simulate, type SimArm } from "./simulation";

/** 0.95 / 0.7 / 0.5 success, and the best arm is also the fastest. */
const ARMS: SimArm[] = [
  { id: "best", successRate: 0.95, latencyMs: 300 },
  { id: "mid", successRate: 0.7, latencyMs: 700 },
  { id: "worst", successRate: 0.5, latencyMs: 1_500 },
];
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/** 20 requests per simulated second. */
const STEP_MS = 50;
const figure = (text: string) => console.log(`[figure] ${text}`);
const fmt = (xs: number[]) => `min ${Math.min(...xs).toFixed(3)}, mean ${(xs.reduce((s, x) => s + x, 0) / xs.length).toFixed(3)}`;

describe("convergence: 2,000 requests over arms of 0.95 / 0.7 / 0.5 success", () => {
  for (const strategy of ["ucb1", "thompson"] as const) {
    for (const latency_weight of [0, 0.5]) {
      it(`${strategy} (latency weight ${latency_weight}) sends at least 85% of the last 500 to the best arm, every seed`, () => {
        const shares = SEEDS.map((seed) => {
          const run = simulate({ arms: ARMS, policy: { strategy, latency_weight }, phases: [{ requests: 2_000 }], stepMs: STEP_MS, seed });
          return shareOf(run.firstChoice, "best", 1_500, 2_000);
        });
        figure(`${strategy}, latency weight ${latency_weight}: share of the last 500 sent to the best arm over ${SEEDS.length} seeds: ${fmt(shares)}`);
        for (const share of shares) expect(share).toBeGreaterThanOrEqual(0.85);
      });
    }
  }

  it("epsilon-greedy (epsilon 0.1) keeps exploring about 10% as configured", () => {
    const shares = SEEDS.map((seed) => {
      const run = simulate({ arms: ARMS, policy: { strategy: "epsilon_greedy", epsilon: 0.1 }, phases: [{ requests: 2_000 }], stepMs: STEP_MS, seed });
      return shareOf(run.firstChoice, "best", 1_500, 2_000);
    });
    figure(`epsilon_greedy 0.1: share of the last 500 sent to the best arm: ${fmt(shares)}`);
    for (const share of shares) expect(share).toBeGreaterThanOrEqual(0.85);
  });

  it("static weights do not learn: about a third each", () => {
    const run = simulate({ arms: ARMS, policy: { strategy: "static" }, phases: [{ requests: 2_000 }], stepMs: STEP_MS, seed: 3 });
    expect(shareOf(run.firstChoice, "best", 1_500, 2_000)).toBeLessThan(0.45);
  });
});

describe("following an arm that gets worse", () => {
  const degrade = (successRate: number) => [{ requests: 2_000 }, { requests: 4_000, arms: { best: { successRate } } }];

  for (const strategy of ["ucb1", "thompson"] as const) {
    it(`${strategy}: a hard failure (0.95 -> 0.2) is left within 100 requests, through the cool-down`, () => {
      const moved = SEEDS.map((seed) => requestsUntilMovedAway(simulate({ arms: ARMS, policy: { strategy }, phases: degrade(0.2), stepMs: STEP_MS, seed }).firstChoice, "best", 2_000));
      figure(`${strategy}, best arm 0.95 -> 0.2 (cool-down 5 failures / 30 s, half-life 120 s, 20 req/s): requests until its share of the next 50 is < 50%: ${moved.join(", ")}`);
      for (const k of moved) expect(k).not.toBeNull();
      for (const k of moved) expect(k!).toBeLessThanOrEqual(100);
    });

    it(`${strategy}: a soft degradation (0.95 -> 0.5, no cool-down) is left through the decay, within about 1.2 half-lives`, () => {
      const moved = SEEDS.map((seed) =>
        requestsUntilMovedAway(simulate({ arms: ARMS, policy: { strategy, cooldown_failures: 0 }, phases: degrade(0.5), stepMs: STEP_MS, seed }).firstChoice, "best", 2_000),
      );
      figure(`${strategy}, best arm 0.95 -> 0.5, cool-down off, half-life 120 s = 2,400 requests at 20 req/s: requests until moved away: ${moved.join(", ")}`);
      // The old mean loses weight as 2^(-t / half-life): it falls below the next arm's 0.7 after ~1.17 half-lives (~2,800 requests).
      for (const k of moved) expect(k).not.toBeNull();
      for (const k of moved) expect(k!).toBeLessThanOrEqual(3_000);
    });
  }

  it("without decay the same degradation is followed far more slowly after a long history (why the half-life exists)", () => {
    const phases = [{ requests: 6_000 }, { requests: 4_000, arms: { best: { successRate: 0.5 } } }];
    const run = (half_life_s?: number) =>
      requestsUntilMovedAway(simulate({ arms: ARMS, policy: { strategy: "thompson", cooldown_failures: 0, half_life_s }, phases, stepMs: STEP_MS, seed: 1 }).firstChoice, "best", 6_000);
    const fast = run(undefined);
    const slow = run(30 * 86_400);
    figure(`thompson, 0.95 -> 0.5 after 6,000 requests: moved away after ${fast} requests with a 120 s half-life, ${slow ?? "never (in 4,000)"} with a 30-day one`);
    expect(fast).not.toBeNull();
    expect(slow === null || slow > 2 * fast!).toBe(true);
  });
});

describe("cool-down", () => {
  const policy = RoutingPolicySchema.parse({ strategy: "ucb1", cooldown_failures: 3, cooldown_s: 30 });
  const tier = ["a", "b", "c"].map((id) => simArmPreset(id));
  const now = Date.UTC(2030, 0, 1);
  const arm = (mean: number, cooldownUntil = 0) => ({ ...EMPTY_ARM, n: 100, reward: 100 * mean, cooldownUntil, updatedAt: now });

  it("an arm cooling down is never chosen first, but stays as the last fallback", () => {
    const stats: RouteStats = { seq: 1, arms: { a: arm(0.99, now + 10_000), b: arm(0.8), c: arm(0.7) } };
    const random = seededRandom(9);
    for (let i = 0; i < 200; i++) {
      const order = orderTier(tier, stats, policy, now, random).map((p) => p.id);
      expect(order[0]).not.toBe("a");
      expect(order.at(-1)).toBe("a");
    }
    // Once the cool-down is over it is the best arm again.
    expect(orderTier(tier, stats, policy, now + 10_001, random)[0]!.id).toBe("a");
  });

  it("when every arm is cooling down, the one back soonest goes first", () => {
    const stats: RouteStats = { seq: 1, arms: { a: arm(0.99, now + 30_000), b: arm(0.5, now + 5_000), c: arm(0.8, now + 20_000) } };
    expect(orderTier(tier, stats, policy, now).map((p) => p.id)).toEqual(["b", "c", "a"]);
  });

  it("in simulation: an arm failing every call is out for the cool-down, then probed again", () => {
    const arms: SimArm[] = [
      { id: "a", successRate: 0.95, latencyMs: 300 },
      { id: "b", successRate: 0.9, latencyMs: 300 },
    ];
    const run = simulate({ arms, policy: { strategy: "thompson", cooldown_failures: 3, cooldown_s: 10 }, phases: [{ requests: 600 }, { requests: 600, arms: { a: { successRate: 0 } } }], stepMs: STEP_MS, seed: 4 });
    // After the failure starts, "a" is first for a handful of requests (until 3 failures and the next refresh), then out for 10 s (200 requests).
    const firstOut = run.firstChoice.slice(600).indexOf("b");
    const window = run.firstChoice.slice(600 + firstOut + 25, 600 + firstOut + 195);
    figure(`cool-down 3 failures / 10 s at 20 req/s: failing arm first for ${firstOut} requests, then chosen ${window.filter((c) => c === "a").length} times in the next 170`);
    expect(firstOut).toBeLessThanOrEqual(25);
    expect(window.filter((c) => c === "a")).toHaveLength(0);
  });
});

describe("degrade to static weights", () => {
  it("with statistics unreadable the order follows the preset weights", () => {
    const tier = [simArmPreset("heavy", { weight: 3 }), simArmPreset("light", { weight: 1 })];
    const random = seededRandom(5);
    const firsts = Array.from({ length: 4_000 }, () => weightedOrder(tier, random)[0]!.id);
    expect(shareOf(firsts, "heavy")).toBeGreaterThan(0.72);
    expect(shareOf(firsts, "heavy")).toBeLessThan(0.78);
  });

  it("in simulation: a bandit route whose statistics cannot be read spreads by weight instead of learning", () => {
    const run = simulate({ arms: ARMS, policy: { strategy: "thompson" }, phases: [{ requests: 2_000 }], stepMs: STEP_MS, seed: 2, statsUnavailable: true });
    expect(shareOf(run.firstChoice, "best", 1_500, 2_000)).toBeLessThan(0.45);
    expect(run.stats.seq).toBe(0);
  });
});
