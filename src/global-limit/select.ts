// Picks the global limiter backend: Upstash Redis when its URL and token are configured, else the Durable Object.
import type { Env } from "../env";
import { durableObjectGlobalLimiter } from "./durable-object-limiter";
import { redisGlobalLimiter } from "./redis-limiter";
import type { GlobalLimiter } from "./types";

// The Redis client holds no I/O object (each command is a fetch), so one per isolate is safe and saves the script digest.
let redis: { url: string; token: string; limiter: GlobalLimiter } | undefined;

export function globalLimiterFor(env: Env): GlobalLimiter {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) {
    if (redis?.url !== url || redis.token !== token) redis = { url, token, limiter: redisGlobalLimiter({ url, token }) };
    return redis.limiter;
  }
  return durableObjectGlobalLimiter(env.GLOBAL_LIMITER);
}
