// Orders a route's usable candidates: priority tiers, lowest number first; the route's strategy
// chooses within the top tier (the bandit, from cached statistics), static weights order every other
// tier; everything after the first candidate is a fallback. The completion task learn_route sends each
// request's outcome to the statistics store once the response has ended.
import type { GatewayContext } from "../context";
import type { GatewayCompletion } from "../steps/types";
import type { PresetItem, PresetsDocument, RoutingPolicy } from "../config/schemas";
import { learningParams } from "./arm-stats";
import { orderTier, tiersOf, weightedOrder, type Random } from "./bandit";
import { observationsOf } from "./rewards";
import type { StatsView } from "./stats-cache";
import { armStatsCacheFor } from "./stats-cache";

/** Statistics could not be read: the route fell back to static weights. */
export const BANDIT_DEGRADED_FLAG = "bandit_degraded";
/** This isolate has not read the route's statistics yet (first request): static weights this once. */
export const BANDIT_COLD_FLAG = "bandit_cold";

export interface RoutePlan {
  candidates: PresetItem[];
  /** The route the statistics are kept under. */
  route: string;
  policy?: RoutingPolicy;
  flag?: string;
}

/** A route is the preset `model` the matches share (aliases resolve to it), else the name asked for. */
export function routeKeyOf(matches: readonly PresetItem[], requested: string): string {
  const models = new Set(matches.map((m) => m.model));
  return models.size === 1 ? [...models][0]! : requested;
}

export function policyOf(document: Pick<PresetsDocument, "policies">, route: string): RoutingPolicy | undefined {
  return document.policies?.[route];
}

/**
 * Orders `items` (already filtered: visible, allowed, breaker not open). `view` is asked for the
 * statistics only when a learning strategy has more than one arm to choose from.
 */
export function planRoute(
  items: readonly PresetItem[],
  route: string,
  policy: RoutingPolicy | undefined,
  view: () => StatsView,
  now: number = Date.now(),
  random: Random = Math.random,
): RoutePlan {
  const [top = [], ...rest] = tiersOf(items);
  const fallbacks = rest.flatMap((tier) => weightedOrder(tier, random));
  if (!policy || policy.strategy === "static" || top.length <= 1) {
    return { candidates: [...weightedOrder(top, random), ...fallbacks], route, policy };
  }
  const stats = view();
  if (stats.state !== "ok") {
    const flag = stats.state === "cold" ? BANDIT_COLD_FLAG : BANDIT_DEGRADED_FLAG;
    return { candidates: [...weightedOrder(top, random), ...fallbacks], route, policy, flag };
  }
  return { candidates: [...orderTier(top, stats.stats, policy, now, random), ...fallbacks], route, policy };
}

/** The routing step's use of the above, with the isolate's statistics cache. */
export function planForRequest(ctx: GatewayContext, items: readonly PresetItem[], route: string, policy: RoutingPolicy | undefined): RoutePlan {
  const cache = armStatsCacheFor(ctx.env);
  const plan = planRoute(items, route, policy, () => cache.view(ctx.exec, route));
  if (plan.flag) ctx.flags.add(plan.flag);
  return plan;
}

/** Rewards are learned for every route with a policy (static too, so switching it on starts informed). */
export const learnRoute: GatewayCompletion = {
  name: "learn_route",
  when: (ctx) => ctx.route?.policy !== undefined,
  run(ctx, outcome) {
    const { routeKey, policy } = ctx.route!;
    armStatsCacheFor(ctx.env).report(ctx.exec, routeKey, observationsOf(ctx.attempts, outcome.ending, policy!), learningParams(policy!));
  },
};
