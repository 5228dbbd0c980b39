// The response cache's policy as stored on a preset, a tenant and an API key (docs/api/cache.md). Kept
// apart from the resolution (policy.ts) so the config schemas import only shapes.
import { z } from "zod";

/** Longest time an answer may be kept, seconds (one day: a cached answer is a convenience, not an archive). */
export const MAX_CACHE_TTL_S = 86_400;
/** Largest stored answer, bytes (KV and the Cache API take far more; this bounds an isolate's memory). */
export const MAX_CACHE_ENTRY_BYTES = 4 * 1024 * 1024;

/** On a preset: what the model's answers may be cached as, and what a hit costs. */
export const PresetCacheSchema = z.strictObject({
  /** The default for callers whose key and tenant say nothing; false unless set. */
  enabled: z.boolean().optional(),
  /** Default time to live, seconds (callers may shorten it). */
  ttl_s: z.number().int().min(1).max(MAX_CACHE_TTL_S).optional(),
  /** Only a preset marked safe may be cached across tenants (scope "shared"); otherwise "shared" acts as "tenant". */
  shared_safe: z.boolean().optional(),
  max_entry_bytes: z.number().int().min(256).max(MAX_CACHE_ENTRY_BYTES).optional(),
  /** What a hit costs, micro-units of the preset's currency (default 0). */
  hit_price_micros: z.number().int().nonnegative().optional(),
  /** Whether a hit's stored tokens count toward token rate limits, token quotas and the usage report (default false). */
  count_hit_tokens: z.boolean().optional(),
});
export type PresetCache = z.infer<typeof PresetCacheSchema>;

/** On a tenant or an API key: whether its requests use the cache, for how long and shared how widely. */
export const CallerCacheSchema = z.strictObject({
  enabled: z.boolean(),
  ttl_s: z.number().int().min(1).max(MAX_CACHE_TTL_S).optional(),
  /** "tenant": only this tenant's requests can hit; "shared": any tenant's, on presets marked shared_safe. */
  scope: z.enum(["tenant", "shared"]).optional(),
});
export type CallerCache = z.infer<typeof CallerCacheSchema>;
