// The tenant's self-service health view: its own recent traffic (from the GatewayMetrics object), its
// remaining quota and balance (its TenantGuard's snapshot) and the status of the models it may use
// (their breakers). Never another tenant's numbers, never upstream target names.
import { guardFor } from "../objects";
import { metricsFor } from "../objects";
import type { Principal } from "../context";
import type { Env } from "../env";
import type { PresetItem } from "../config/schemas";
import { allowedItems, catalogFor } from "../routing/catalog";
import { breakerStates, cachedBreaker, type BreakerState } from "../upstream/breaker";
import { FLUSH_INTERVAL_MS, flushMetrics } from "./flush";
import type { TenantWindowStats } from "./tenant-stats";
import { withTimeout } from "./with-timeout";

const SOURCE_TIMEOUT_MS = 3_000;
const MAX_TARGETS = 50;

type ModelStatus = "available" | "degraded" | "unavailable";

export interface TenantHealth {
  object: "tenant.health";
  tenant_id: string;
  key_id: string;
  generated_at: string;
  /** Another isolate's requests reach these numbers within this many seconds. */
  max_delay_seconds: number;
  traffic: ReturnType<typeof trafficWindow>[] | null;
  account: {
    status: string;
    balance_micros: number;
    held_micros: number;
    available_micros: number;
    quotas: { id: string; scope: "tenant" | "key"; type: string; period: string; used: number; limit: number; remaining: number }[];
  } | null;
  models: { model: string; capability: string; status: ModelStatus; used_recently: boolean }[] | null;
  /** Sources that could not be read this time (their section is null). */
  unavailable: string[];
}

function trafficWindow(w: TenantWindowStats) {
  return {
    window_minutes: w.minutes,
    requests: w.requests,
    succeeded: w.succeeded,
    success_rate: w.successRate,
    rejections: w.rejections,
    client_errors: w.clientErrors,
    gateway_errors: w.gatewayErrors,
    upstream_errors: w.upstreamErrors,
    latency_ms: w.latencyMs,
    cost_micros: w.costMicros,
  };
}

/** Cached states where this isolate has them (kept fresh by traffic), the objects otherwise. */
async function statesOf(env: Env, ids: string[]): Promise<Record<string, BreakerState>> {
  const out: Record<string, BreakerState> = {};
  const missing = ids.filter((id) => {
    const cached = cachedBreaker(id);
    if (cached) out[id] = cached;
    return !cached;
  });
  return { ...out, ...(await breakerStates(env, missing)) };
}

async function modelStatuses(env: Env, principal: Principal, used: readonly string[]): Promise<TenantHealth["models"]> {
  // The caller's catalog: the presets version in force for its tenant (gray release), as routing sees it.
  const catalog = await catalogFor(env, principal, "external");
  if (!catalog.ok) throw new Error(catalog.failure.message);
  const byModel = new Map<string, PresetItem[]>();
  for (const item of allowedItems(catalog.value)) {
    byModel.set(item.model, [...(byModel.get(item.model) ?? []), item]);
  }
  const ids = [...new Set([...byModel.values()].flat().map((i) => i.id))].slice(0, MAX_TARGETS);
  const states = await statesOf(env, ids);
  return [...byModel].map(([model, items]) => {
    const known = items.filter((i) => states[i.id]);
    const open = known.filter((i) => states[i.id]!.state === "open").length;
    const status: ModelStatus = known.length > 0 && open === known.length ? "unavailable" : open > 0 ? "degraded" : "available";
    return { model, capability: items[0]!.capability, status, used_recently: used.includes(model) };
  });
}

export async function tenantHealth(env: Env, principal: Principal, now: number = Date.now()): Promise<TenantHealth> {
  // This isolate's own pending numbers first, so the caller sees its latest requests.
  await flushMetrics(env);
  const guard = guardFor(env, principal.tenantId);
  const [stats, snapshot] = await Promise.allSettled([
    withTimeout(metricsFor(env).tenantStats(principal.tenantId, { now }), SOURCE_TIMEOUT_MS, "traffic"),
    withTimeout(guard.snapshot(), SOURCE_TIMEOUT_MS, "account"),
  ]);
  const used = stats.status === "fulfilled" ? stats.value.models : [];
  const [models] = await Promise.allSettled([withTimeout(modelStatuses(env, principal, used), SOURCE_TIMEOUT_MS, "models")]);
  const unavailable: string[] = [];
  for (const [name, result] of [["traffic", stats], ["account", snapshot], ["models", models]] as const) {
    if (result.status === "rejected") {
      unavailable.push(name);
      console.error(JSON.stringify({ level: "error", msg: "tenant health source failed", source: name, error: String(result.reason) }));
    }
  }
  let account: TenantHealth["account"] = null;
  if (snapshot.status === "fulfilled") {
    const s = snapshot.value;
    account = {
      status: s.tenantStatus,
      balance_micros: s.balanceMicros,
      held_micros: s.holdMicros,
      available_micros: s.balanceMicros - s.holdMicros,
      // Key-scoped quotas of this key only: other keys' usage is not this caller's business.
      quotas: s.quotas
        .filter((q) => q.scope === "tenant" || q.subject === principal.keyId)
        .map((q) => ({ id: q.id, scope: q.scope, type: q.type, period: q.period, used: q.used, limit: q.limit, remaining: Math.max(0, q.limit - q.used) })),
    };
  }
  return {
    object: "tenant.health",
    tenant_id: principal.tenantId,
    key_id: principal.keyId,
    generated_at: new Date(now).toISOString(),
    max_delay_seconds: (FLUSH_INTERVAL_MS * 2) / 1000,
    traffic: stats.status === "fulfilled" ? stats.value.windows.map(trafficWindow) : null,
    account,
    models: models.status === "fulfilled" ? models.value : null,
    unavailable,
  };
}
