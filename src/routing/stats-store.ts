// The arm-statistics store behind the routing bandit: a small interface with two real backends, the
// BanditStats Durable Object (default) and Upstash Redis (when UPSTASH_REDIS_REST_URL and _TOKEN are set).
import type { BanditStats } from "../../durable-objects/bandit-stats";
import type { Env } from "../env";
import type { LearningParams, Observation, RouteStats } from "./arm-stats";
import { banditObjectName } from "./keys";
import { redisArmStatsStore } from "./redis-stats-store";

export interface ArmStatsStore {
  readonly backend: "durable_object" | "redis";
  /** The route's arms as stored. */
  read(route: string): Promise<RouteStats>;
  /** Applies observations atomically, in order; resolves with the route's new state. */
  record(route: string, observations: Observation[], params: LearningParams): Promise<RouteStats>;
  /** Forgets the given arms of the route, or all of them. */
  reset(route: string, arms?: string[]): Promise<RouteStats>;
}

export function durableObjectArmStatsStore(namespace: DurableObjectNamespace<BanditStats>, prefix = ""): ArmStatsStore {
  // A stub per call: an RPC stub belongs to the request that made it.
  const stub = (route: string) => namespace.get(namespace.idFromName(prefix + banditObjectName(route)));
  return {
    backend: "durable_object",
    read: (route) => stub(route).read() as Promise<RouteStats>,
    record: (route, observations, params) => stub(route).record(observations, params) as Promise<RouteStats>,
    reset: (route, arms) => stub(route).reset(arms) as Promise<RouteStats>,
  };
}

// The Redis client holds no I/O object (each command is a fetch), so one per isolate is safe and keeps the script digest.
let redis: { url: string; token: string; store: ArmStatsStore } | undefined;
// One store object per namespace, so the per-isolate cache (keyed by store) survives across requests.
const objectStores = new WeakMap<object, ArmStatsStore>();

export function armStatsStoreFor(env: Env): ArmStatsStore {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) {
    if (redis?.url !== url || redis.token !== token) redis = { url, token, store: redisArmStatsStore({ url, token }) };
    return redis.store;
  }
  let store = objectStores.get(env.BANDIT_STATS);
  if (!store) objectStores.set(env.BANDIT_STATS, (store = durableObjectArmStatsStore(env.BANDIT_STATS)));
  return store;
}
