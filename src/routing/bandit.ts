// The bandit strategies that order one priority tier of a route: static weights, epsilon-greedy,
// UCB1 and Thompson sampling, over the arms' decayed statistics. Arms cooling down go last (still
// usable as a final fallback). Pure and synchronous: `random` is injected so simulations replay.
import type { PresetItem, RoutingPolicy } from "../config/schemas";
import { viewOf, type ArmView, type RouteStats } from "./arm-stats";
import { sampleBeta } from "./beta";

export type Random = () => number;

/** Weighted random permutation (the static strategy, and the degraded mode); weight-0 items keep their list order, last. */
export function weightedOrder<T extends { weight: number }>(items: readonly T[], random: Random = Math.random): T[] {
  const pool = [...items];
  const ordered: T[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((sum, i) => sum + i.weight, 0);
    let pick = 0;
    if (total > 0) {
      let r = random() * total;
      while (pick < pool.length - 1 && r >= pool[pick]!.weight) r -= pool[pick++]!.weight;
    }
    ordered.push(pool.splice(pick, 1)[0]!);
  }
  return ordered;
}

interface Scored<T> {
  item: T;
  score: number;
  tie: number;
}

function byScore<T>(scored: Scored<T>[]): T[] {
  return scored.sort((a, b) => b.score - a.score || a.tie - b.tie).map((s) => s.item);
}

/** Scores each arm; higher goes first. Unexplored arms (n = 0) score +Infinity in every learning strategy. */
function scores(views: ArmView[], policy: RoutingPolicy, random: Random): number[] {
  switch (policy.strategy) {
    case "epsilon_greedy":
      return views.map((v) => (v.n <= 0 ? Infinity : v.mean));
    case "ucb1": {
      const total = views.reduce((sum, v) => sum + v.n, 0);
      // ln(1 + N) rather than ln N: with decayed counts N can fall below 1, where ln N would go negative.
      const logTotal = Math.log(1 + total);
      return views.map((v) => (v.n <= 0 ? Infinity : v.mean + policy.ucb_c * Math.sqrt(logTotal / v.n)));
    }
    case "thompson":
      // Beta(1 + rewards, 1 + non-rewards): with fractional (latency-aware) rewards, a fractional update.
      return views.map((v) => (v.n <= 0 ? Infinity : sampleBeta(1 + v.reward, 1 + Math.max(0, v.n - v.reward), random)));
    case "static":
      return views.map(() => 0);
  }
}

/**
 * Orders one tier: the strategy's choice first, the other arms after it as fallbacks (by score),
 * arms cooling down last (soonest back first; all of them in that order when none is ready). Every item of `tier` is in the result exactly once.
 */
export function orderTier<T extends PresetItem>(tier: readonly T[], stats: RouteStats, policy: RoutingPolicy, now: number, random: Random = Math.random): T[] {
  if (tier.length <= 1 || policy.strategy === "static") return weightedOrder(tier, random);
  const halfLifeMs = policy.half_life_s * 1000;
  const views = tier.map((item) => viewOf(stats.arms[item.id], now, halfLifeMs));
  const ready = tier.map((_, i) => i).filter((i) => !views[i]!.coolingDown);
  const cooling = tier
    .map((_, i) => i)
    .filter((i) => views[i]!.coolingDown)
    .sort((a, b) => (stats.arms[tier[a]!.id]?.cooldownUntil ?? 0) - (stats.arms[tier[b]!.id]?.cooldownUntil ?? 0));
  // Every arm cooling down: the one whose cool-down ends first (it failed longest ago) goes first.
  if (ready.length === 0) return cooling.map((i) => tier[i]!);
  const pool = ready;
  const poolScores = scores(pool.map((i) => views[i]!), policy, random);
  let ordered = byScore(pool.map((i, k) => ({ item: tier[i]!, score: poolScores[k]!, tie: random() })));
  if (policy.strategy === "epsilon_greedy" && ordered.length > 1 && random() < policy.epsilon) {
    // Explore: a uniformly random arm goes first; the rest keep their greedy order.
    const pick = Math.floor(random() * ordered.length);
    ordered = [ordered[pick]!, ...ordered.filter((_, k) => k !== pick)];
  }
  return [...ordered, ...cooling.map((i) => tier[i]!)];
}

/** Splits candidates into priority tiers, lowest priority number first. */
export function tiersOf<T extends { priority: number }>(items: readonly T[]): T[][] {
  const tiers = new Map<number, T[]>();
  for (const item of items) tiers.set(item.priority, [...(tiers.get(item.priority) ?? []), item]);
  return [...tiers.keys()].sort((a, b) => a - b).map((p) => tiers.get(p)!);
}
