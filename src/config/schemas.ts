// Shapes of the configuration stored in KV (see docs/storage-schema.md), checked with zod when read.
import { z } from "zod";

export const CapabilitySchema = z.enum(["chat", "embeddings"]);
export type Capability = z.infer<typeof CapabilitySchema>;

export const ProviderKindSchema = z.enum(["openai", "anthropic", "azure"]);
export type ProviderKind = z.infer<typeof ProviderKindSchema>;

export const VisibilitySchema = z.enum(["external", "internal", "both"]);

export const PricingSchema = z.object({
  /** Micro-units of the currency per million input tokens. */
  input_per_million_micros: z.number().int().nonnegative().default(0),
  output_per_million_micros: z.number().int().nonnegative().default(0),
  per_request_micros: z.number().int().nonnegative().default(0),
  currency: z.string().length(3).default("USD"),
});
export type Pricing = z.infer<typeof PricingSchema>;

export const PresetItemSchema = z.object({
  id: z.string().min(1),
  capability: CapabilitySchema,
  /** The model name clients ask for. */
  model: z.string().min(1),
  aliases: z.array(z.string().min(1)).default([]),
  provider: ProviderKindSchema,
  /** Upstream base URL, e.g. https://api.openai.com/v1 (Azure: the resource URL). */
  base_url: z.string().url(),
  /** The model name sent upstream (defaults to `model`); for Azure, the deployment name. */
  upstream_model: z.string().min(1).optional(),
  api_version: z.string().optional(),
  /** Name of the Worker secret holding the upstream credential; never the credential itself. */
  credential: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional(),
  auth: z.enum(["bearer", "api-key", "x-api-key", "basic", "none"]).default("bearer"),
  pricing: PricingSchema.default({ input_per_million_micros: 0, output_per_million_micros: 0, per_request_micros: 0, currency: "USD" }),
  visibility: VisibilitySchema.default("both"),
  priority: z.number().int().default(0),
  weight: z.number().nonnegative().default(1),
  enabled: z.boolean().default(true),
});
export type PresetItem = z.infer<typeof PresetItemSchema>;

export const PresetsDocumentSchema = z.object({
  version: z.number().int().nonnegative(),
  items: z.array(PresetItemSchema),
});
export type PresetsDocument = z.infer<typeof PresetsDocumentSchema>;

export const RateLimitsSchema = z.object({
  requests_per_minute: z.number().int().positive().optional(),
  tokens_per_minute: z.number().int().positive().optional(),
});
export type RateLimits = z.infer<typeof RateLimitsSchema>;

export const ScopesSchema = z.object({
  /** Allowed capabilities; absent = all. */
  capabilities: z.array(CapabilitySchema).optional(),
  /** Allowed model names (exact); absent = all visible models. */
  models: z.array(z.string().min(1)).optional(),
});
export type Scopes = z.infer<typeof ScopesSchema>;

export const TenantRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  status: z.enum(["active", "banned"]).default("active"),
  ip_allowlist: z.array(z.string()).optional(),
  rate_limits: RateLimitsSchema.optional(),
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
  expires_at: z.string().optional(),
  signature: z.enum(["required", "optional"]).default("required"),
  rate_limits: RateLimitsSchema.optional(),
  /** The HMAC signing secret, sealed with MASTER_KEY (AES-GCM); never stored in plaintext. */
  signing_secret_sealed: z.string().optional(),
  /** The previous signing secret, accepted until `previous_secret_expires_at` after a rotation. */
  previous_signing_secret_sealed: z.string().optional(),
  previous_secret_expires_at: z.string().optional(),
  created_at: z.string(),
  version: z.number().int().nonnegative().default(0),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

export const ServiceRecordSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  status: z.enum(["active", "revoked"]).default("active"),
  scopes: ScopesSchema.default({}),
  rate_limits: RateLimitsSchema.optional(),
  created_at: z.string(),
  version: z.number().int().nonnegative().default(0),
});
export type ServiceRecord = z.infer<typeof ServiceRecordSchema>;
