// Global shared state that is not per tenant (the global bucket, the bandit's arm statistics) lives in
// Upstash Redis when its URL and token are configured, else in a Durable Object. This is the one place
// that choice is made.
import type { Env } from "./env";

export interface UpstashConfig {
  url: string;
  token: string;
}

export function upstashOf(env: Env): UpstashConfig | undefined {
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  return url && token ? { url, token } : undefined;
}

/**
 * A per-isolate chooser: the Redis implementation when Upstash is configured (built once per URL and token:
 * the client holds no I/O object, each command is a fetch), else the Durable Object one.
 */
export function sharedStateBackend<T>(onRedis: (config: UpstashConfig) => T, onObject: (env: Env) => T): (env: Env) => T {
  let redis: { url: string; token: string; value: T } | undefined;
  return (env) => {
    const config = upstashOf(env);
    if (!config) return onObject(env);
    if (redis?.url !== config.url || redis.token !== config.token) redis = { ...config, value: onRedis(config) };
    return redis.value;
  };
}
