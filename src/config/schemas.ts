// Shapes of the configuration stored in KV (see docs/storage-schema.md), checked with zod when read.
import { z } from "zod";
import type { QuotaRule } from "../guard/types";
import { MAX_OUTPUT_TOKENS } from "../api/request-bounds";

/** A preset's output cap when it sets none: what the Anthropic adapter always sent. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;
import { IPV6_RATE_LIMIT_PREFIX_MAX, IPV6_RATE_LIMIT_PREFIX_MIN } from "../security/ip";
import { SERVICE_PRIORITY_CLASSES } from "../backpressure/priority-classes";

/** The largest concurrency cap accepted anywhere (tenant, key, service, target). */
export const MAX_CONCURRENT_REQUESTS = 100_000;
/** Bounds of the `queue` policy: a waiting request holds its connection open, so the wait stays short. */
export const MAX_QUEUE_LENGTH = 1_000;
export const MAX_QUEUE_WAIT_MS = 30_000;
import { CallerCacheSchema, PresetCacheSchema } from "../cache/policy-schema";

export const CapabilitySchema = z.enum(["chat", "embeddings"]);
export type Capability = z.infer<typeof CapabilitySchema>;

export const ProviderKindSchema = z.enum(["openai", "anthropic", "azure"]);
export type ProviderKind = z.infer<typeof ProviderKindSchema>;

export const VisibilitySchema = z.enum(["external", "internal", "both"]);

const micros = () => z.number().int().nonnegative();

/** Token prices of the priority service tier, used when the upstream reports it served the request at that tier. */
export const TierPricingSchema = z.object({
  input_per_million_micros: micros(),
  output_per_million_micros: micros(),
  cached_input_per_million_micros: micros().optional(),
});

/**
 * Prices in integer micro-units of `currency`. The parts the upstream reports separately (cached,
 * cache-write, audio and reasoning tokens, search calls, the priority tier) are priced by their own
 * fields; an unset token price falls back to the plain input or output price (src/billing/pricing.ts).
 */
export const PricingSchema = z.object({
  /** Micro-units of the currency per million input tokens. */
  input_per_million_micros: micros().default(0),
  output_per_million_micros: micros().default(0),
  per_request_micros: micros().default(0),
  /** Prompt tokens served from the provider's prompt cache. */
  cached_input_per_million_micros: micros().optional(),
  /** Prompt tokens written to the prompt cache (Anthropic's cache_creation_input_tokens). */
  cache_write_per_million_micros: micros().optional(),
  /** Output tokens spent on hidden reasoning (part of the output count). */
  reasoning_per_million_micros: micros().optional(),
  audio_input_per_million_micros: micros().optional(),
  audio_output_per_million_micros: micros().optional(),
  /** Each web search the upstream ran for the request. */
  web_search_per_call_micros: micros().optional(),
  priority: TierPricingSchema.optional(),
  /** Token prices of a batch line (POST /batches); absent: a batch line pays the normal prices (docs/api/batches.md). */
  batch: TierPricingSchema.optional(),
  /**
   * The most one image in the input can cost at this upstream (its image tokens at the input price); reserved
   * for every image part (docs/api/reservations.md). Upstreams report image tokens in their usage, which is
   * what settlement charges. Absent: an image reserves its part's bytes as input tokens, at least 1,600.
   */
  per_image_micros: micros().optional(),
  currency: z.string().length(3).default("USD"),
});
export type Pricing = z.infer<typeof PricingSchema>;

/** Per-preset overrides of the circuit-breaker defaults (durable-objects/upstream-health/config.ts). */
export const BreakerSettingsSchema = z.strictObject({
  /** Failure share (0..1] of the calls in the window that opens the breaker. */
  failure_rate_threshold: z.number().gt(0).max(1).optional(),
  /** Fewer calls than this in the window never open the breaker. */
  minimum_calls: z.number().int().positive().optional(),
  window_ms: z.number().int().min(1_000).max(3_600_000).optional(),
  /** How long an open breaker refuses calls before it lets probes through. */
  open_ms: z.number().int().positive().max(3_600_000).optional(),
  half_open_probes: z.number().int().positive().max(100).optional(),
  /** A probe permit whose outcome never arrives is handed out again after this long. */
  probe_timeout_ms: z.number().int().positive().max(600_000).optional(),
});
export type BreakerSettings = z.infer<typeof BreakerSettingsSchema>;

export const PresetItemSchema = z.object({
  id: z.string().min(1),
  capability: CapabilitySchema,
  /** The model name clients ask for. */
  model: z.string().min(1),
  aliases: z.array(z.string().min(1)).default([]),
  provider: ProviderKindSchema,
  /** Upstream base URL, e.g. https://api.openai.com/v1 (Azure: the resource URL); its host must be in the egress allowlist. */
  base_url: z.string().url(),
  /** Exact host names this preset adds to the deployment's egress allowlist (EGRESS_ALLOWED_HOSTS). */
  egress_hosts: z.array(z.string().min(1).max(253)).max(16).optional(),
  /** The model name sent upstream (defaults to `model`); for Azure, the deployment name. */
  upstream_model: z.string().min(1).optional(),
  api_version: z.string().optional(),
  /** Name of the Worker secret holding the upstream credential (listed in PROVIDER_SECRETS); never the credential itself. */
  credential: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional(),
  auth: z.enum(["bearer", "api-key", "x-api-key", "basic", "none"]).default("bearer"),
  /** Request fields forwarded beyond the provider format's default list (src/providers/request-fields.ts). */
  extra_fields: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/)).max(64).optional(),
  /** What happens to a request field that is not forwarded: a 400 naming it, or silently left out. */
  unknown_fields: z.enum(["reject", "drop"]).default("reject"),
  pricing: PricingSchema.default({ input_per_million_micros: 0, output_per_million_micros: 0, per_request_micros: 0, currency: "USD" }),
  visibility: VisibilitySchema.default("both"),
  priority: z.number().int().default(0),
  weight: z.number().nonnegative().default(1),
  enabled: z.boolean().default(true),
  breaker: BreakerSettingsSchema.optional(),
  /** Requests in flight to this target across the gateway; classes are shed first beyond their share (src/backpressure/priority-classes.ts). */
  max_concurrent_requests: z.number().int().positive().max(MAX_CONCURRENT_REQUESTS).optional(),
  /**
   * The output cap sent upstream when the client sets none (max_tokens / max_completion_tokens), and reserved
   * at admission (docs/api/reservations.md): without it an OpenAI upstream would answer up to the model's limit.
   */
  max_output_tokens: z.number().int().min(1).max(MAX_OUTPUT_TOKENS).default(DEFAULT_MAX_OUTPUT_TOKENS),
  /** Response cache settings (docs/api/cache.md); absent = not cached unless a caller turns it on. */
  cache: PresetCacheSchema.optional(),
});
export type PresetItem = z.infer<typeof PresetItemSchema>;

/** How a route learns from outcomes and picks within its top priority tier (docs/api/bandit-routing.md). */
export const RoutingStrategySchema = z.enum(["static", "epsilon_greedy", "ucb1", "thompson"]);
export type RoutingStrategy = z.infer<typeof RoutingStrategySchema>;

export const RoutingPolicySchema = z.strictObject({
  strategy: RoutingStrategySchema.default("static"),
  /** epsilon_greedy: share of requests that explore a random arm. */
  epsilon: z.number().min(0).max(1).default(0.1),
  /** ucb1: exploration constant c in mean + c * sqrt(ln N / n). */
  ucb_c: z.number().min(0).max(10).default(1),
  /** Statistics lose half their weight in this time, so the bandit follows an arm that gets worse. */
  half_life_s: z.number().min(1).max(30 * 86_400).default(120),
  /** 0: reward = success; w > 0: reward = success * (1 - w * min(1, latency / latency_target_ms)). */
  latency_weight: z.number().min(0).max(1).default(0),
  latency_target_ms: z.number().int().positive().max(600_000).default(2_000),
  /** This many consecutive failures take an arm out of the bandit's choice for cooldown_s; 0 = never. */
  cooldown_failures: z.number().int().min(0).max(1_000).default(5),
  cooldown_s: z.number().min(1).max(3_600).default(30),
});
export type RoutingPolicy = z.infer<typeof RoutingPolicySchema>;

/** A staged version being rolled out to some tenants (by id, or a stable hash of the id below `percent`). */
export const RolloutSchema = z.object({
  version: z.number().int().positive(),
  tenants: z.array(z.string().min(1)).default([]),
  /** 0..100, in steps of 0.01. */
  percent: z.number().min(0).max(100).default(0),
  /** Copied from the version: before it, rollout tenants stay on the stable version. */
  effective_at: z.string().optional(),
  started_at: z.string(),
});
export type Rollout = z.infer<typeof RolloutSchema>;

/** Release state carried by the live presets document (src/routing/versions.ts). */
export const ReleaseSchema = z.object({
  candidate: RolloutSchema.optional(),
  /** Earlier stable versions, newest first: what a rollback without a candidate returns to. */
  previous: z.array(z.number().int().nonnegative()).default([]),
  /** The highest version number handed out (staged versions included). */
  latest_version: z.number().int().nonnegative(),
});
export type Release = z.infer<typeof ReleaseSchema>;

export const PresetsDocumentSchema = z.object({
  /** The version in force (prices and routing); audit records and ledger rows name it. */
  version: z.number().int().nonnegative(),
  items: z.array(PresetItemSchema),
  /** Routing policy per route (a preset `model`); a route without one uses static weights and learns nothing. */
  policies: z.record(z.string().min(1), RoutingPolicySchema).optional(),
  /** Staged versions: not in force for rollout tenants before this instant (ISO 8601). */
  effective_at: z.string().optional(),
  /** Bumped on every write of the live document, rollbacks included, so caches never keep an older write; absent = version. */
  revision: z.number().int().nonnegative().optional(),
  release: ReleaseSchema.optional(),
});
export type PresetsDocument = z.infer<typeof PresetsDocumentSchema>;

export const RateLimitsSchema = z.object({
  requests_per_minute: z.number().int().positive().optional(),
  tokens_per_minute: z.number().int().positive().optional(),
});
export type RateLimits = z.infer<typeof RateLimitsSchema>;

/** Tenant self-service permissions a key may hold (src/routes/self-service-keys.ts). */
export const KEY_PERMISSIONS = ["keys:manage"] as const;
export type KeyPermission = (typeof KEY_PERMISSIONS)[number];

export const ScopesSchema = z.object({
  /** Allowed capabilities; absent = all. */
  capabilities: z.array(CapabilitySchema).optional(),
  /** Allowed model names (exact); absent = all visible models. */
  models: z.array(z.string().min(1)).optional(),
  /** What a tenant key may manage besides calling models: `keys:manage` = its own tenant's keys (/external/v1/keys). */
  permissions: z.array(z.enum(KEY_PERMISSIONS)).optional(),
});
export type Scopes = z.infer<typeof ScopesSchema>;

export const QuotaTypeSchema = z.enum(["tokens", "requests", "cost"]);
export const QuotaPeriodSchema = z.enum(["daily", "monthly", "never"]);

/** A quota as stored on a tenant or key; its scope is where it is stored. */
export const QuotaSchema = z.object({
  /** `<type>-<period>-<capability|all>`: stable across limit changes, so the TenantGuard keeps counting. */
  id: z.string().min(1),
  type: QuotaTypeSchema,
  period: QuotaPeriodSchema,
  /** Tokens, requests, or micro-units of currency per period. */
  limit: z.number().int().nonnegative(),
  /** Absent: counts every capability. */
  capability: CapabilitySchema.optional(),
});
export type Quota = z.infer<typeof QuotaSchema>;

export function quotaId(q: Pick<Quota, "type" | "period" | "capability">): string {
  return `${q.type}-${q.period}-${q.capability ?? "all"}`;
}

/** The TenantGuard's rules for quotas stored on a tenant (scope "tenant") or a key (scope "key"). */
export function quotaRules(scope: QuotaRule["scope"], quotas: readonly Quota[] | undefined, timeZone?: string): QuotaRule[] {
  return (quotas ?? []).map((q) => ({
    id: q.id,
    scope,
    type: q.type,
    period: q.period,
    limit: q.limit,
    ...(q.capability ? { capability: q.capability } : {}),
    ...(timeZone ? { timeZone } : {}),
  }));
}

/** What the gateway does when the tenant's Durable Object cannot be reached in time. */
export const FailPolicySchema = z.object({
  rate_limit: z.enum(["open", "closed"]).default("open"),
  balance: z.enum(["open", "closed"]).default("closed"),
});
export type FailPolicy = z.infer<typeof FailPolicySchema>;

/** What a request over a concurrency cap gets: a 429 at once, or a bounded wait for a slot (docs/api/rate-limit.md). */
export const ConcurrencyPolicySchema = z.object({
  mode: z.enum(["reject", "queue"]).default("reject"),
  /** Requests waiting at once (per tenant object, and per tenant at a target); one more is refused at once. */
  max_queue_length: z.number().int().min(1).max(MAX_QUEUE_LENGTH).default(100),
  /** Longest wait for a slot; then the request gets the same 429 it would have got at once. */
  max_wait_ms: z.number().int().min(1).max(MAX_QUEUE_WAIT_MS).default(10_000),
});
export type ConcurrencyPolicy = z.infer<typeof ConcurrencyPolicySchema>;

const MaxConcurrentSchema = z.number().int().positive().max(MAX_CONCURRENT_REQUESTS);

export const TenantRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  status: z.enum(["active", "banned"]).default("active"),
  ip_allowlist: z.array(z.string()).optional(),
  rate_limits: RateLimitsSchema.optional(),
  /** Limits per client IP (CF-Connecting-IP) across this tenant's keys. */
  ip_rate_limits: RateLimitsSchema.optional(),
  /** IPv6 callers are counted per network of this prefix length (src/security/ip.ts); absent = /64. */
  ipv6_rate_limit_prefix: z.number().int().min(IPV6_RATE_LIMIT_PREFIX_MIN).max(IPV6_RATE_LIMIT_PREFIX_MAX).optional(),
  quotas: z.array(QuotaSchema).optional(),
  /** Share of the global bucket when it is saturated (relative to other tenants; default 1). */
  weight: z.number().positive().optional(),
  /** IANA time zone whose midnight starts daily and monthly quota periods; absent = UTC. */
  time_zone: z.string().optional(),
  fail_policy: FailPolicySchema.optional(),
  /** Requests in flight across all the tenant's keys (open holds in its TenantGuard). */
  max_concurrent_requests: MaxConcurrentSchema.optional(),
  concurrency_policy: ConcurrencyPolicySchema.optional(),
  /** Response cache for this tenant's requests (docs/api/cache.md); a key's own setting wins. */
  cache: CallerCacheSchema.optional(),
  created_at: z.string(),
  updated_at: z.string().optional(),
  /** Bumped on every write; caches never go back to a lower version. */
  version: z.number().int().nonnegative().default(0),
});
export type TenantRecord = z.infer<typeof TenantRecordSchema>;

export const ApiKeyRecordSchema = z.object({
  id: z.string().min(1),
  tenant_id: z.string().min(1),
  name: z.string().optional(),
  /** First characters of the key, for display only. */
  prefix: z.string(),
  status: z.enum(["active", "revoked"]).default("active"),
  scopes: ScopesSchema.default({}),
  ip_allowlist: z.array(z.string()).optional(),
  /** Browser origins (canonical patterns, src/cors/origin-patterns.ts) the key may be called from; absent = none. */
  allowed_origins: z.array(z.string()).optional(),
  expires_at: z.string().optional(),
  signature: z.enum(["required", "optional"]).default("required"),
  rate_limits: RateLimitsSchema.optional(),
  /** The HMAC signing secret, sealed with MASTER_KEY (AES-GCM); never stored in plaintext. */
  signing_secret_sealed: z.string().optional(),
  /** The previous signing secret, accepted until `previous_secret_expires_at` after a rotation. */
  previous_signing_secret_sealed: z.string().optional(),
  previous_secret_expires_at: z.string().optional(),
  secret_rotated_at: z.string().optional(),
  quotas: z.array(QuotaSchema).optional(),
  /** Requests in flight with this key (open holds in the tenant's TenantGuard). */
  max_concurrent_requests: MaxConcurrentSchema.optional(),
  /** Response cache for this key's requests (docs/api/cache.md); wins over the tenant's. */
  cache: CallerCacheSchema.optional(),
  created_at: z.string(),
  updated_at: z.string().optional(),
  version: z.number().int().nonnegative().default(0),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

export const ServiceRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  status: z.enum(["active", "revoked"]).default("active"),
  scopes: ScopesSchema.default({}),
  /** May read operations data (metrics, readiness, the dashboard across tenants); off unless granted. */
  operations: z.boolean().default(false),
  rate_limits: RateLimitsSchema.optional(),
  /** Requests in flight with this service token (open holds in the service's TenantGuard). */
  max_concurrent_requests: MaxConcurrentSchema.optional(),
  /** How its traffic is shed when an upstream target saturates; absent = interactive_internal. */
  priority_class: z.enum(SERVICE_PRIORITY_CLASSES).optional(),
  /** First characters of the token, for display only. */
  prefix: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string().optional(),
  version: z.number().int().nonnegative().default(0),
});
export type ServiceRecord = z.infer<typeof ServiceRecordSchema>;

/** Limits of the global bucket shared by every tenant (`gw:rl:global`), per channel. */
export const GlobalLimitsDocumentSchema = z.object({
  version: z.number().int().nonnegative(),
  external: RateLimitsSchema.optional(),
  internal: RateLimitsSchema.optional(),
  updated_at: z.string().optional(),
});
export type GlobalLimitsDocument = z.infer<typeof GlobalLimitsDocumentSchema>;
