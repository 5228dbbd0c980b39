// What operators see of routing (admin API): per route, its policy and each arm's decayed statistics,
// cool-down and circuit-breaker state, read straight from the stores (blocking is fine off the hot path).
import { RoutingPolicySchema, type PresetItem, type PresetsDocument, type RoutingPolicy } from "../config/schemas";
import type { Env } from "../env";
import { err, fail, ok } from "../errors";
import { breakerStates, type BreakerState } from "../upstream/breaker";
import { viewOf, type RouteStats } from "./arm-stats";
import { armStatsStoreFor } from "./stats-store";

/** Routes read per call: each is one store read. */
export const MAX_REPORTED_ROUTES = 50;
const DEFAULT_POLICY = RoutingPolicySchema.parse({});

export interface ArmReport {
  id: string;
  priority: number;
  weight: number;
  enabled: boolean;
  /** Decayed number of observed calls. */
  n: number;
  mean_reward: number | null;
  success_rate: number | null;
  mean_latency_ms: number | null;
  consecutive_failures: number;
  cooling_down: boolean;
  cooldown_until: string | null;
  updated_at: string | null;
  breaker: BreakerState | null;
}

export interface RouteReport {
  route: string;
  /** Versions in force (stable, candidate) that serve this route. */
  versions: number[];
  policy: RoutingPolicy | null;
  stats_error: string | null;
  arms: ArmReport[];
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);

function armReport(item: PresetItem, stats: RouteStats | undefined, halfLifeMs: number, breaker: BreakerState | undefined, now: number): ArmReport {
  const state = stats?.arms[item.id];
  const view = viewOf(state, now, halfLifeMs);
  const seen = view.n > 0;
  return {
    id: item.id,
    priority: item.priority,
    weight: item.weight,
    enabled: item.enabled,
    n: view.n,
    mean_reward: seen ? view.mean : null,
    success_rate: seen ? view.successRate : null,
    mean_latency_ms: view.meanLatencyMs,
    consecutive_failures: state?.consecutiveFailures ?? 0,
    cooling_down: view.coolingDown,
    cooldown_until: state && state.cooldownUntil > now ? iso(state.cooldownUntil) : null,
    updated_at: iso(state?.updatedAt ?? 0),
    breaker: breaker ?? null,
  };
}

/** Reports the routes of the given documents (stable first), or only the one serving `model`. */
export async function routeReports(
  env: Env,
  docs: ReadonlyArray<{ version: number; document: PresetsDocument }>,
  model?: string,
  now: number = Date.now(),
): Promise<{ backend: string; routes: RouteReport[] }> {
  const routes = new Map<string, { versions: Set<number>; items: Map<string, PresetItem>; policy?: RoutingPolicy }>();
  for (const { version, document } of docs) {
    for (const item of document.items) {
      if (model !== undefined && item.model !== model && !item.aliases.includes(model)) continue;
      const route = routes.get(item.model) ?? { versions: new Set<number>(), items: new Map<string, PresetItem>() };
      routes.set(item.model, route);
      route.versions.add(version);
      if (!route.items.has(item.id)) route.items.set(item.id, item);
      route.policy ??= document.policies?.[item.model];
    }
  }
  const chosen = [...routes].slice(0, MAX_REPORTED_ROUTES);
  const store = armStatsStoreFor(env);
  const ids = [...new Set(chosen.flatMap(([, r]) => [...r.items.keys()]))];
  const [stats, breakers] = await Promise.all([
    Promise.all(chosen.map(([route]) => store.read(route).then(ok, () => err(fail("internal_error", "statistics store unavailable"))))),
    breakerStates(env, ids).catch(() => ({}) as Record<string, BreakerState>),
  ]);
  return {
    backend: store.backend,
    routes: chosen.map(([route, r], i) => {
      const read = stats[i]!;
      const halfLifeMs = (r.policy ?? DEFAULT_POLICY).half_life_s * 1000;
      const routeStats = read.ok ? read.value : undefined;
      return {
        route,
        versions: [...r.versions],
        policy: r.policy ?? null,
        stats_error: read.ok ? null : read.failure.message,
        arms: [...r.items.values()].map((item) => armReport(item, routeStats, halfLifeMs, breakers[item.id], now)),
      };
    }),
  };
}
