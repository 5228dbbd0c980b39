// What a tenant key holding `keys:manage` may set on its own tenant's keys: never more than the tenant's
// own limits (rate limits, concurrency, quotas, IP allowlist, response cache) and never scopes wider than
// its own. A value beyond them is a 400 naming the field; nothing is clamped silently.
import type { CallerCache } from "../cache/policy-schema";
import type { Quota, Scopes, TenantRecord } from "../config/schemas";
import { fail, type GatewayFailure, type Result, err, ok } from "../errors";
import { ipInCidr, parseCidr } from "../security/ip";

/** The settings a self-service create or update may carry (the admin key schemas' fields). */
export interface KeySettings {
  scopes?: Scopes | null;
  ip_allowlist?: string[] | null;
  rate_limits?: { requests_per_minute?: number; tokens_per_minute?: number } | null;
  max_concurrent_requests?: number | null;
  quotas?: Quota[] | null;
  cache?: CallerCache | null;
}

const beyond = (param: string, message: string): GatewayFailure => fail("invalid_request", `Invalid ${param}: ${message}`, { param });

/** The first setting beyond the tenant's limits, or undefined when all are within them. */
export function beyondTenant(settings: KeySettings, tenant: TenantRecord): GatewayFailure | undefined {
  for (const field of ["requests_per_minute", "tokens_per_minute"] as const) {
    const asked = settings.rate_limits?.[field];
    const cap = tenant.rate_limits?.[field];
    if (asked !== undefined && cap !== undefined && asked > cap) return beyond(`rate_limits.${field}`, `at most the tenant's ${cap}`);
  }
  const concurrency = settings.max_concurrent_requests;
  if (concurrency != null && tenant.max_concurrent_requests !== undefined && concurrency > tenant.max_concurrent_requests) {
    return beyond("max_concurrent_requests", `at most the tenant's ${tenant.max_concurrent_requests}`);
  }
  for (const [i, quota] of (settings.quotas ?? []).entries()) {
    const cap = quotaCap(quota, tenant.quotas ?? []);
    if (cap !== undefined && quota.limit > cap) return beyond(`quotas.${i}.limit`, `at most the tenant's ${cap} for ${quota.type} per ${quota.period}`);
  }
  const cache = cacheBeyondTenant(settings.cache, tenant.cache);
  if (cache) return cache;
  const tenantNets = tenant.ip_allowlist ?? [];
  if (tenantNets.length > 0) {
    const asked = settings.ip_allowlist;
    // Cleared or empty would mean "any address" on the key: still only the tenant's, but never wider on paper.
    if (asked === null || (asked !== undefined && asked.length === 0)) return beyond("ip_allowlist", "the tenant allows only its own networks; list some of them");
    for (const [i, entry] of (asked ?? []).entries()) {
      if (!withinAny(entry, tenantNets)) return beyond(`ip_allowlist.${i}`, "outside the tenant's IP allowlist");
    }
  }
  return undefined;
}

/**
 * A key may turn the cache off, or use it as the tenant does or narrower: whether hits (billed at the
 * preset's cache price) are served, and how widely answers are shared, is the operator's call per tenant.
 */
function cacheBeyondTenant(asked: CallerCache | null | undefined, tenant: CallerCache | undefined): GatewayFailure | undefined {
  if (!asked?.enabled) return undefined;
  if (tenant?.enabled !== true) return beyond("cache.enabled", "the tenant's response cache is off; an administrator turns it on");
  if (asked.ttl_s !== undefined && tenant.ttl_s !== undefined && asked.ttl_s > tenant.ttl_s) return beyond("cache.ttl_s", `at most the tenant's ${tenant.ttl_s}`);
  if (asked.scope === "shared" && tenant.scope !== "shared") return beyond("cache.scope", "the tenant's answers are not shared");
  return undefined;
}

/** The tightest tenant quota of the same type and period that counts what the key's quota counts. */
function quotaCap(quota: Quota, tenantQuotas: readonly Quota[]): number | undefined {
  const caps = tenantQuotas.filter((t) => t.type === quota.type && t.period === quota.period && (t.capability === undefined || t.capability === quota.capability)).map((t) => t.limit);
  return caps.length > 0 ? Math.min(...caps) : undefined;
}

function withinAny(entry: string, nets: readonly string[]): boolean {
  const inner = parseCidr(entry);
  if (!inner) return false;
  return nets.some((net) => {
    const outer = parseCidr(net);
    if (outer === null || outer.version !== inner.version || inner.prefix < outer.prefix) return false;
    // The inner network's first address inside the outer network, with a prefix as long or longer: all of it is.
    return ipInCidr(inner.version === 4 ? { version: 4, bytes: inner.bytes } : { version: 6, bytes: inner.bytes }, outer);
  });
}

/**
 * The scopes the new settings give, narrowed to the managing key's own: a list the manager has bounds the
 * one asked for (absent: the manager's list is taken), and only permissions the manager holds pass on.
 */
export function scopesWithin(asked: Scopes | null | undefined, manager: Scopes): Result<Scopes> {
  const wanted = asked ?? {};
  const out: Scopes = {};
  for (const field of ["capabilities", "models"] as const) {
    const own = manager[field] as string[] | undefined;
    const list = wanted[field] as string[] | undefined;
    const outside = own && list ? list.find((v) => !own.includes(v)) : undefined;
    if (outside !== undefined) return err(beyond(`scopes.${field}`, `${outside} is not among your key's own ${field}`));
    const chosen = list ?? own;
    if (chosen !== undefined) (out as Record<string, string[]>)[field] = [...chosen];
  }
  const permissions = wanted.permissions ?? [];
  const missing = permissions.find((p) => !(manager.permissions ?? []).includes(p));
  if (missing !== undefined) return err(beyond("scopes.permissions", `your key does not hold ${missing}`));
  if (permissions.length > 0) out.permissions = [...permissions];
  return ok(out);
}
