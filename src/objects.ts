// The one way to reach a Durable Object: a stub per call, by the object's name. An RPC stub belongs to
// the request that made it, so none is kept across requests; the id a name hashes to is a plain value,
// kept per isolate (a request reaches its tenant's object two or three times, and hashing costs).
import type { Env } from "./env";

const MAX_CACHED_IDS = 10_000;
const idCache = new WeakMap<object, Map<string, DurableObjectId>>();

function idNamed(namespace: DurableObjectNamespace<any>, name: string): DurableObjectId {
  let ids = idCache.get(namespace);
  if (!ids) idCache.set(namespace, (ids = new Map()));
  let id = ids.get(name);
  if (!id) {
    if (ids.size >= MAX_CACHED_IDS) ids.clear();
    ids.set(name, (id = namespace.idFromName(name)));
  }
  return id;
}

/** The tenant's (external) or service's (internal) TenantGuard: limits, quotas, balance holds, nonces, outbox. */
export function guardFor(env: Env, tenantId: string) {
  return env.TENANT_GUARD.get(idNamed(env.TENANT_GUARD, tenantId));
}

export type GuardStub = ReturnType<typeof guardFor>;

/** The circuit breaker of one upstream target. */
export function upstreamHealthFor(env: Env, targetId: string) {
  return env.UPSTREAM_HEALTH.get(idNamed(env.UPSTREAM_HEALTH, targetId));
}

/** The metrics aggregate every isolate flushes into. */
export const METRICS_OBJECT_NAME = "global";

export function metricsFor(env: Env) {
  return env.GATEWAY_METRICS.get(env.GATEWAY_METRICS.idFromName(METRICS_OBJECT_NAME));
}

/** The one object holding the named admin tokens and the failed-login counters. */
export const ADMIN_ACCESS_OBJECT_NAME = "global";

export function adminAccessFor(env: Env) {
  return env.ADMIN_ACCESS.get(env.ADMIN_ACCESS.idFromName(ADMIN_ACCESS_OBJECT_NAME));
}

/** A named object of a namespace (the global limiter and the bandit stores take their namespace as a seam for tests). */
export function objectNamed<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>, name: string): DurableObjectStub<T> {
  return namespace.get(idNamed(namespace, name));
}
