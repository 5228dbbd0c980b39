// Whether and how a request uses the response cache: the key's setting, else the tenant's, else the
// preset's default; the request's own Cache-Control and x-gateway-cache-ttl; and determinism (cached by
// default only for temperature 0 and one choice, anything else only when the caller opts in).
import type { GatewayContext } from "../context";
import { err, fail, ok, type Result } from "../errors";
import type { PresetItem } from "../config/schemas";
import { MAX_CACHE_ENTRY_BYTES, MAX_CACHE_TTL_S } from "./policy-schema";

/** On every answer of the chat and embeddings routes: hit, miss or bypass. */
export const CACHE_HEADER = "x-gateway-cache";
/** The entry's key (hex), on a hit and on a stored miss: what an admin purges by. */
export const CACHE_KEY_HEADER = "x-gateway-cache-key";
export const CACHE_TTL_HEADER = "x-gateway-cache-ttl";
/** `true` lets a non-deterministic request (temperature above 0, several choices) use the cache. */
export const CACHE_NONDETERMINISTIC_HEADER = "x-gateway-cache-nondeterministic";
export const DEFAULT_CACHE_TTL_S = 300;
export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024;

export type CachePlan =
  | { use: false; reason: string }
  | { use: true; read: boolean; store: boolean; ttlS: number; scope: "tenant" | "shared"; preset: PresetItem; maxEntryBytes: number };

function cacheControl(request: Request): { noCache: boolean; noStore: boolean } {
  const value = (request.headers.get("cache-control") ?? "").toLowerCase();
  const directives = new Set(value.split(",").map((d) => d.trim().split("=")[0]));
  return { noCache: directives.has("no-cache"), noStore: directives.has("no-store") };
}

/** The caller's TTL header: whole seconds 0..MAX (0 = do not store); anything else is a 400. */
function ttlHeader(request: Request): Result<number | undefined> {
  const raw = request.headers.get(CACHE_TTL_HEADER);
  if (raw === null) return ok(undefined);
  if (!/^\d{1,6}$/.test(raw.trim()) || Number(raw) > MAX_CACHE_TTL_S) {
    return err(fail("invalid_request", `The ${CACHE_TTL_HEADER} header must be whole seconds from 0 to ${MAX_CACHE_TTL_S}.`, { param: CACHE_TTL_HEADER }));
  }
  return ok(Number(raw));
}

function deterministic(ctx: GatewayContext): boolean {
  const parsed = ctx.parsed!;
  if (parsed.capability === "embeddings") return true;
  const body = parsed.body;
  return body.temperature === 0 && (body.n === undefined || body.n === null || body.n === 1);
}

/** The cache plan of a routed request, or a 400 for a malformed cache header. */
export function planCache(ctx: GatewayContext): Result<CachePlan> {
  const preset = ctx.route?.candidates[0];
  if (!preset || !ctx.parsed || !ctx.principal) return ok({ use: false, reason: "no_route" });
  const ttl = ttlHeader(ctx.request);
  if (!ttl.ok) return ttl;
  const caller = ctx.principal.cache;
  const presetCache = preset.cache ?? {};
  const enabled = caller?.enabled ?? presetCache.enabled ?? false;
  if (!enabled) return ok({ use: false, reason: "off" });
  const control = cacheControl(ctx.request);
  if (control.noStore) return ok({ use: false, reason: "no_store" });
  const optedIn = ctx.request.headers.get(CACHE_NONDETERMINISTIC_HEADER)?.trim().toLowerCase() === "true";
  if (!deterministic(ctx) && !optedIn) return ok({ use: false, reason: "nondeterministic" });
  const policyTtl = caller?.ttl_s ?? presetCache.ttl_s ?? DEFAULT_CACHE_TTL_S;
  // The caller may shorten the policy's TTL, never lengthen it.
  const ttlS = ttl.value === undefined ? policyTtl : Math.min(ttl.value, policyTtl);
  // Shared across tenants only where the preset's owner said its answers carry nothing tenant-specific.
  const scope = caller?.scope === "shared" && presetCache.shared_safe === true ? "shared" : "tenant";
  return ok({ use: true, read: !control.noCache, store: ttlS > 0, ttlS, scope, preset, maxEntryBytes: presetCache.max_entry_bytes ?? Math.min(DEFAULT_MAX_ENTRY_BYTES, MAX_CACHE_ENTRY_BYTES) });
}
