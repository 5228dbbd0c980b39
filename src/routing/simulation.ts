// In-process bandit simulation with the production code paths (orderTier, rewardOf, applyObservations):
// arms with set success rates and latencies, a fake clock, statistics read through a snapshot that is
// refreshed only every `refreshMs` (as the in-isolate cache is), and fallback to the next arm on failure.
import { PresetItemSchema, RoutingPolicySchema, type PresetItem, type RoutingPolicy } from "../config/schemas";
import { applyObservations, learningParams, rewardOf, type ArmState, type Observation, type RouteStats } from "./arm-stats";
import { orderTier, weightedOrder } from "./bandit";
import { seededRandom } from "./beta";

export interface SimArm {
  id: string;
  successRate: number;
  latencyMs: number;
}

export interface SimPhase {
  requests: number;
  /** Changes to arms from this phase on (e.g. the best arm degrading). */
  arms?: Record<string, Partial<Omit<SimArm, "id">>>;
}

export interface SimOptions {
  arms: SimArm[];
  policy: Partial<RoutingPolicy>;
  phases: SimPhase[];
  /** Simulated time between requests. */
  stepMs?: number;
  /** How often the routing snapshot of the statistics is refreshed (the cache's refresh period). */
  refreshMs?: number;
  seed?: number;
  /** Statistics unreadable: the route degrades to static weights. */
  statsUnavailable?: boolean;
}

export interface SimResult {
  /** The arm chosen first for each request, in order. */
  firstChoice: string[];
  /** Arm served each request in the end (after fallbacks), or null when every arm failed. */
  served: (string | null)[];
  stats: RouteStats;
}

export function simArmPreset(id: string, overrides: Partial<PresetItem> = {}): PresetItem {
  return PresetItemSchema.parse({ id, capability: "chat", model: "sim", provider: "openai", base_url: "https://upstream.example/v1", ...overrides });
}

export function simulate(opts: SimOptions): SimResult {
  const random = seededRandom(opts.seed ?? 1);
  const outcomes = seededRandom((opts.seed ?? 1) * 7919 + 13);
  const policy = RoutingPolicySchema.parse(opts.policy);
  const params = learningParams(policy);
  const stepMs = opts.stepMs ?? 50;
  const refreshMs = opts.refreshMs ?? 1_000;
  const arms = new Map(opts.arms.map((a) => [a.id, { ...a }]));
  const tier = opts.arms.map((a) => simArmPreset(a.id));
  const stored = new Map<string, ArmState>();
  let seq = 0;
  let snapshot: RouteStats = { seq: 0, arms: {} };
  let refreshedAt = -Infinity;
  let now = Date.UTC(2030, 0, 1);
  const firstChoice: string[] = [];
  const served: (string | null)[] = [];
  for (const phase of opts.phases) {
    for (const [id, change] of Object.entries(phase.arms ?? {})) Object.assign(arms.get(id)!, change);
    for (let i = 0; i < phase.requests; i++) {
      now += stepMs;
      if (now - refreshedAt >= refreshMs) {
        snapshot = { seq, arms: Object.fromEntries([...stored].map(([k, v]) => [k, { ...v }])) };
        refreshedAt = now;
      }
      const order = opts.statsUnavailable ? weightedOrder(tier, random) : orderTier(tier, snapshot, policy, now, random);
      firstChoice.push(order[0]!.id);
      const observations: Observation[] = [];
      let winner: string | null = null;
      for (const item of order) {
        const arm = arms.get(item.id)!;
        const success = outcomes() < arm.successRate;
        const latencyMs = arm.latencyMs * (0.8 + 0.4 * outcomes());
        observations.push({ arm: item.id, success, latencyMs, reward: rewardOf(success, latencyMs, policy), at: now });
        if (success) {
          winner = item.id;
          break;
        }
      }
      served.push(winner);
      if (!opts.statsUnavailable) {
        applyObservations(stored, observations, params);
        seq += 1;
      }
    }
  }
  return { firstChoice, served, stats: { seq, arms: Object.fromEntries(stored) } };
}

/** Share of `choices[from..to)` equal to `arm`. */
export function shareOf(choices: readonly (string | null)[], arm: string, from = 0, to = choices.length): number {
  const window = choices.slice(from, to);
  return window.filter((c) => c === arm).length / Math.max(1, window.length);
}

/**
 * How many requests after `start` the bandit took to move away from `arm`: the smallest k such that
 * the arm's share of first choices over requests [start + k, start + k + window) is below `below`;
 * null if it never is.
 */
export function requestsUntilMovedAway(choices: readonly string[], arm: string, start: number, window = 50, below = 0.5): number | null {
  for (let k = 0; start + k + window <= choices.length; k++) {
    if (shareOf(choices, arm, start + k, start + k + window) < below) return k;
  }
  return null;
}
