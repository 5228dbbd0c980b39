// Test fixtures for the global limiter suites: both real backends on fresh state, and a bounded-concurrency runner.
import { env } from "cloudflare:test";
import { durableObjectGlobalLimiter } from "./durable-object-limiter";
import { redisGlobalLimiter } from "./redis-limiter";
import type { GlobalDecision, GlobalLimiter, GlobalTake } from "./types";

/** A fixed clock on a window boundary, ahead of real time. */
export const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

export const redisAvailable = env.TEST_REDIS_REST_URL !== "";
export const REDIS_SKIP_NOTE = redisAvailable ? "" : " [SKIPPED: no redis-server answered on 127.0.0.1:6379, so the Redis backend was not tested]";

export interface Backend {
  name: "durable_object" | "redis";
  available: boolean;
  /** A limiter on state no other test shares (its own object, or its own key prefix). */
  fresh(): GlobalLimiter;
}

export const BACKENDS: Backend[] = [
  { name: "durable_object", available: true, fresh: () => durableObjectGlobalLimiter(env.GLOBAL_LIMITER, `test-${crypto.randomUUID()}`) },
  {
    name: "redis",
    available: redisAvailable,
    // A generous deadline: on a busy test machine a call can take longer than production's 250 ms.
    fresh: () => redisGlobalLimiter({ url: env.TEST_REDIS_REST_URL, token: env.TEST_REDIS_REST_TOKEN, prefix: `gw-test:${crypto.randomUUID()}:rl`, timeoutMs: 10_000 }),
  },
];

/** Runs the tasks with at most `concurrency` in flight, results in task order. */
export async function runConcurrently<T>(tasks: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  return results;
}

/** `perTenant` takes from each tenant, interleaved round-robin, sent 50 at a time; admitted counts per tenant. */
export async function saturate(
  limiter: GlobalLimiter,
  weights: Record<string, number>,
  perTenant: number,
  base: Omit<GlobalTake, "tenantId" | "weight">,
): Promise<Record<string, number>> {
  const tenants = Object.keys(weights);
  const tasks: Array<() => Promise<[string, GlobalDecision]>> = [];
  for (let i = 0; i < perTenant; i++) {
    for (const tenantId of tenants) tasks.push(async () => [tenantId, await limiter.take({ ...base, tenantId, weight: weights[tenantId]! })]);
  }
  const admitted: Record<string, number> = Object.fromEntries(tenants.map((t) => [t, 0]));
  for (const [tenantId, decision] of await runConcurrently(tasks, 50)) if (decision.ok) admitted[tenantId]! += 1;
  return admitted;
}
