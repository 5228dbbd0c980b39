// Wire shapes of tenant API keys for the admin API. Views are built field by field from the
// record, so the sealed signing secrets and the key hash can never leak into a response.
import { z } from "@hono/zod-openapi";
import { CallerCacheSchema } from "../cache/policy-schema";
import type { ApiKeyRecord } from "../config/schemas";
import type { GuardSnapshot, KeyStatus } from "../guard/types";
import {
  AllowedOriginsSchema,
  CidrListSchema,
  MaxConcurrentInputSchema,
  QuotaListInputSchema,
  QuotaSchema,
  QuotaUsageSchema,
  quotaUsageView,
  RateLimitsInputSchema,
  RateLimitsSchema,
  KeyScopesInputSchema,
  ScopesSchema,
} from "./schemas";

export const ApiKeySchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    name: z.string().nullable(),
    /** The first characters of the key, to recognise it; never enough to use it. */
    prefix: z.string(),
    /** "frozen" comes from the tenant's Durable Object (freezes never touch KV). */
    status: z.enum(["active", "frozen", "revoked"]),
    scopes: ScopesSchema,
    ip_allowlist: z.array(z.string()),
    allowed_origins: z.array(z.string()).openapi({ description: "Browser origins this key may be called from (CORS); empty: none." }),
    expires_at: z.string().nullable(),
    signature: z.enum(["required", "optional"]),
    rate_limits: RateLimitsSchema,
    max_concurrent_requests: z.number().int().nullable(),
    cache: CallerCacheSchema.nullable().openapi({ description: "Response cache for this key's requests; null: the tenant's setting applies (docs/api/cache.md)." }),
    quotas: z.array(QuotaSchema),
    secret_rotated_at: z.string().nullable(),
    previous_secret_expires_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi("ApiKey");

export const ApiKeyDetailSchema = ApiKeySchema.extend({ quota_usage: z.array(QuotaUsageSchema) }).openapi("ApiKeyDetail");

export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: "The API key. Shown only in this response: store it now.", example: "gk_3fZq8Wc1Lr0bTnY2kPxA7dEeHh9JmQv0a1B2c3" }),
  signing_secret: z.string().openapi({ description: "The HMAC signing secret. Shown only in this response." }),
}).openapi("CreatedApiKey");

export const RotatedSecretSchema = z
  .object({
    id: z.string(),
    signing_secret: z.string().openapi({ description: "The new signing secret. Shown only in this response." }),
    secret_rotated_at: z.string(),
    previous_secret_expires_at: z.string().nullable().openapi({ description: "Until then the previous secret is still accepted." }),
  })
  .openapi("RotatedSigningSecret");

const ExpiresAtSchema = z.iso
  .datetime({ offset: true })
  .refine((value) => Date.parse(value) > Date.now(), "must be in the future")
  .openapi({ example: "2030-01-01T00:00:00Z" });

export const CreateApiKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: KeyScopesInputSchema.optional(),
    ip_allowlist: CidrListSchema.optional(),
    allowed_origins: AllowedOriginsSchema.optional(),
    expires_at: ExpiresAtSchema.optional(),
    signature: z.enum(["required", "optional"]).default("required"),
    rate_limits: RateLimitsInputSchema.optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.optional(),
    quotas: QuotaListInputSchema.optional(),
    /** Response cache for this key's requests (docs/api/cache.md); wins over the tenant's setting. */
    cache: CallerCacheSchema.optional(),
  })
  .openapi("CreateApiKey");

export const UpdateApiKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).nullable().optional(),
    scopes: KeyScopesInputSchema.nullable().optional(),
    ip_allowlist: CidrListSchema.nullable().optional(),
    allowed_origins: AllowedOriginsSchema.nullable().optional(),
    expires_at: ExpiresAtSchema.nullable().optional(),
    signature: z.enum(["required", "optional"]).optional(),
    rate_limits: RateLimitsInputSchema.nullable().optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.nullable().optional(),
    quotas: QuotaListInputSchema.nullable().optional(),
    cache: CallerCacheSchema.nullable().optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), "at least one field is required")
  .openapi("UpdateApiKey", { description: "Absent fields are kept; `null` clears a field." });

export const RotateSecretSchema = z
  .strictObject({
    grace_seconds: z.number().int().min(0).max(30 * 86_400).default(86_400).openapi({ description: "How long the previous secret stays valid." }),
  })
  .openapi("RotateSigningSecret");

/** KV says revoked, or the Durable Object's status (which alone knows about freezes). */
export function effectiveStatus(record: ApiKeyRecord, guardStatus: KeyStatus | undefined): KeyStatus {
  if (record.status === "revoked") return "revoked";
  return guardStatus ?? "active";
}

export function apiKeyView(k: ApiKeyRecord, status: KeyStatus): z.infer<typeof ApiKeySchema> {
  return {
    id: k.id,
    tenant_id: k.tenant_id,
    name: k.name ?? null,
    prefix: k.prefix,
    status,
    scopes: k.scopes,
    ip_allowlist: k.ip_allowlist ?? [],
    allowed_origins: k.allowed_origins ?? [],
    expires_at: k.expires_at ?? null,
    signature: k.signature,
    rate_limits: k.rate_limits ?? {},
    max_concurrent_requests: k.max_concurrent_requests ?? null,
    cache: k.cache ?? null,
    quotas: k.quotas ?? [],
    secret_rotated_at: k.secret_rotated_at ?? null,
    previous_secret_expires_at: k.previous_secret_expires_at ?? null,
    created_at: k.created_at,
    updated_at: k.updated_at ?? null,
    version: k.version,
  };
}

export function apiKeyDetailView(k: ApiKeyRecord, snapshot: GuardSnapshot): z.infer<typeof ApiKeyDetailSchema> {
  return {
    ...apiKeyView(k, effectiveStatus(k, snapshot.keys[k.id]?.status)),
    quota_usage: quotaUsageView(k.quotas, snapshot.quotas, "key", k.id),
  };
}
