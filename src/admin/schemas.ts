// Wire schemas shared by the admin routes (snake_case JSON): inputs are strict, so a misspelt
// field is a 400 naming it rather than a silently ignored setting.
import { adminAuth, type AdminRouteScope } from "../auth/middleware";
import type { AdminArea } from "../auth/roles";
import { z } from "@hono/zod-openapi";
import { CapabilitySchema, KEY_PERMISSIONS, ConcurrencyPolicySchema, FailPolicySchema, MAX_CONCURRENT_REQUESTS, MAX_QUEUE_LENGTH, MAX_QUEUE_WAIT_MS, QuotaPeriodSchema, QuotaSchema, QuotaTypeSchema, RateLimitsSchema, ScopesSchema, quotaId } from "../config/schemas";
import type { Quota } from "../config/schemas";
import type { QuotaUsage } from "../guard/types";
import { isValidCidr } from "../security/ip";
import { parseOriginPattern } from "../cors/origin-patterns";

export const ErrorSchema = z
  .object({
    error: z.object({ message: z.string(), type: z.string(), code: z.string(), param: z.string().nullable() }),
    trace_id: z.string(),
  })
  .openapi("Error");

/** Ids are opaque (`ten_…`, `key_…`, `svc_…`); the pattern keeps KV key separators out of them. */
export const idParam = (name: string) =>
  z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 of [A-Za-z0-9_-]")
    .openapi({ param: { name, in: "path" }, example: "ten_3fZq8Wc1Lr0bTnY2kPxA" });

export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
  cursor: z.string().min(1).max(1024).optional().openapi({ param: { name: "cursor", in: "query" }, description: "`next_cursor` of the previous page." }),
});

export const pageOf = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const CidrListSchema = z
  .array(z.string().max(64).refine(isValidCidr, "must be an IPv4 or IPv6 address or CIDR"))
  .max(100)
  .openapi({ description: "CIDRs (IPv4 or IPv6) matched against CF-Connecting-IP; empty = any address.", example: ["203.0.113.0/24", "2001:db8::/32"] });

/** Browser origins a key may be called from (CORS); each entry is stored in its canonical form. */
export const AllowedOriginsSchema = z
  .array(
    z
      .string()
      .max(300)
      .transform((raw, ctx) => {
        const parsed = parseOriginPattern(raw);
        if (parsed.ok) return parsed.pattern;
        ctx.addIssue({ code: "custom", message: parsed.problem });
        return z.NEVER;
      }),
  )
  .max(100)
  .transform((patterns) => [...new Set(patterns)])
  .openapi({
    description:
      "Browser origins this key may be called from: exact origins (`https://app.example.com`, `http://localhost:5173`) or subdomain patterns (`https://*.example.com`, any depth, not the apex). Empty or absent: no browser origin (requests that carry a cross-origin `Origin` header are refused). See docs/api/authentication.md#browsers-cors.",
    example: ["https://app.example.com", "https://*.example.com"],
  });

export const RateLimitsInputSchema = z.strictObject({
  requests_per_minute: z.number().int().positive().max(1e9).optional(),
  tokens_per_minute: z.number().int().positive().max(1e12).optional(),
});

export const ScopesInputSchema = z.strictObject({
  capabilities: z.array(CapabilitySchema).max(8).optional(),
  models: z.array(z.string().min(1).max(256)).max(256).optional(),
});

/** A tenant key's scopes: a service's, plus the self-service permissions. */
export const KeyScopesInputSchema = ScopesInputSchema.extend({
  permissions: z
    .array(z.enum(KEY_PERMISSIONS))
    .max(KEY_PERMISSIONS.length)
    .transform((p) => [...new Set(p)])
    .optional()
    .openapi({ description: "`keys:manage`: the key may create, list, rotate and revoke its own tenant's keys through /external/v1/keys, within the tenant's limits." }),
});

export const QuotaInputSchema = z.strictObject({
  type: QuotaTypeSchema,
  period: QuotaPeriodSchema,
  limit: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  capability: CapabilitySchema.optional(),
});

/** One rule per (type, period, capability): the id derived from them names the Durable Object's counter. */
export const QuotaListInputSchema = z
  .array(QuotaInputSchema)
  .max(32)
  .superRefine((quotas, ctx) => {
    const seen = new Set<string>();
    quotas.forEach((q, i) => {
      const id = quotaId(q);
      if (seen.has(id)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate quota ${id}` });
      seen.add(id);
    });
  })
  .transform((quotas) => quotas.map((q) => ({ id: quotaId(q), ...q })));

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const TimeZoneSchema = z.string().min(1).max(64).refine(isTimeZone, "must be an IANA time zone, e.g. Europe/Paris").openapi({ example: "UTC" });

/** A cap on requests in flight (src/backpressure); absent or null = no cap. */
export const MaxConcurrentInputSchema = z
  .number()
  .int()
  .positive()
  .max(MAX_CONCURRENT_REQUESTS)
  .openapi({ description: "Most requests in flight at once; one more gets 429 concurrency_limit_exceeded (or waits, with the tenant's queue policy).", example: 20 });

export const ConcurrencyPolicyInputSchema = z
  .strictObject({
    mode: z.enum(["reject", "queue"]).optional(),
    max_queue_length: z.number().int().min(1).max(MAX_QUEUE_LENGTH).optional(),
    max_wait_ms: z.number().int().min(1).max(MAX_QUEUE_WAIT_MS).optional(),
  })
  .openapi({ description: "Over a concurrency cap: `reject` (429 at once, the default) or `queue` (wait up to max_wait_ms in a queue of max_queue_length, then run or get the same 429)." });

export const FailPolicyInputSchema = z.strictObject({
  rate_limit: z.enum(["open", "closed"]).optional(),
  balance: z.enum(["open", "closed"]).optional(),
});

export const QuotaUsageSchema = z.object({
  id: z.string(),
  type: QuotaTypeSchema,
  period: QuotaPeriodSchema,
  capability: CapabilitySchema.nullable(),
  limit: z.number().int(),
  used: z.number().int(),
  /** Start of the current period; null for "never" or before first use. */
  period_start: z.string().nullable(),
});
export type QuotaUsageView = z.infer<typeof QuotaUsageSchema>;

/** Configured quotas joined with the Durable Object's counters; a rule not used yet shows 0. */
export function quotaUsageView(quotas: readonly Quota[] | undefined, usage: readonly QuotaUsage[], scope: QuotaUsage["scope"], subject: string | null): QuotaUsageView[] {
  return (quotas ?? []).map((q) => {
    const counter = usage.find((u) => u.id === q.id && u.scope === scope && (scope === "tenant" || u.subject === subject));
    return {
      id: q.id,
      type: q.type,
      period: q.period,
      capability: q.capability ?? null,
      limit: q.limit,
      used: counter?.used ?? 0,
      period_start: counter && counter.periodStart > 0 ? new Date(counter.periodStart).toISOString() : null,
    };
  });
}

export { ConcurrencyPolicySchema, FailPolicySchema, QuotaSchema, RateLimitsSchema, ScopesSchema };

/** Helpers to describe responses in createRoute. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { "application/json": { schema } }, description });

const ERROR_DESCRIPTIONS = {
  400: "Invalid request (`invalid_request` with `param`, `invalid_json`)",
  401: "Missing or wrong admin token (`admin_unauthorized`)",
  403: "The token's role does not cover this route, or it is scoped to one tenant and the route is not about it (`insufficient_role`)",
  404: "Unknown id (`not_found`)",
  409: "The resource's state forbids this (`invalid_state`)",
  429: "Too many failed admin logins from this source (`admin_login_throttled`, with Retry-After)",
  503: "A store or the tenant's Durable Object is unavailable, or ADMIN_TOKEN is unset",
} as const;

/** Error responses of a route; a route that authenticates (401) can also answer 403 (role or tenant scope) and 429 (login throttle). */
export function errors<C extends keyof typeof ERROR_DESCRIPTIONS>(...codes: C[]): Record<C, ReturnType<typeof json<typeof ErrorSchema>>> {
  const all: (keyof typeof ERROR_DESCRIPTIONS)[] = codes.includes(401 as C) ? [...new Set<keyof typeof ERROR_DESCRIPTIONS>([...codes, 403, 429])].sort() : codes;
  return Object.fromEntries(all.map((code) => [code, json(ErrorSchema, ERROR_DESCRIPTIONS[code])])) as Record<C, ReturnType<typeof json<typeof ErrorSchema>>>;
}

export const ADMIN_SECURITY = [{ AdminToken: [] }];

/**
 * A route's admin access: documented as the admin bearer scheme (and `x-admin-area`), enforced by
 * adminAuth for the route's area (src/auth/roles.ts) and, for tenant-scoped tokens, the tenant it is about.
 */
export function adminAccess(area: AdminArea, scope: AdminRouteScope = {}) {
  return { security: ADMIN_SECURITY, "x-admin-area": area, middleware: [adminAuth(area, scope)] };
}

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });
