// The arm-statistics store behind the routing bandit: a small interface with two real backends, the
// BanditStats Durable Object (default) and Upstash Redis (when UPSTASH_REDIS_REST_URL and _TOKEN are set).
import type { BanditStats } from "../../durable-objects/bandit-stats";
import type { Env } from "../env";
import type { ArmStatsStore, RouteStats } from "./arm-stats";
import { banditObjectName } from "./keys";
import { redisArmStatsStore } from "./redis-stats-store";
import { objectNamed } from "../objects";
import { sharedStateBackend } from "../shared-state";

export function durableObjectArmStatsStore(namespace: DurableObjectNamespace<BanditStats>, prefix = ""): ArmStatsStore {
  // A stub per call: an RPC stub belongs to the request that made it.
  const stub = (route: string) => objectNamed(namespace, prefix + banditObjectName(route));
  return {
    backend: "durable_object",
    read: (route) => stub(route).read() as Promise<RouteStats>,
    record: (route, observations, params) => stub(route).record(observations, params) as Promise<RouteStats>,
    reset: (route, arms) => stub(route).reset(arms) as Promise<RouteStats>,
  };
}

// One store object per namespace, so the per-isolate cache (keyed by store) survives across requests.
const objectStores = new WeakMap<object, ArmStatsStore>();

function objectStoreOf(env: Env): ArmStatsStore {
  let store = objectStores.get(env.BANDIT_STATS);
  if (!store) objectStores.set(env.BANDIT_STATS, (store = durableObjectArmStatsStore(env.BANDIT_STATS)));
  return store;
}

/** Upstash Redis when configured, else the BanditStats Durable Object (src/shared-state.ts). */
export const armStatsStoreFor = sharedStateBackend<ArmStatsStore>(redisArmStatsStore, objectStoreOf);
export type { ArmStatsStore };
