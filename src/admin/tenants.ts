// Admin routes for tenants: create, list, read (with balance and quota usage from the tenant's
// Durable Object), update. A ban goes to the Durable Object first, so it applies at once everywhere.
import { createRoute, z } from "@hono/zod-openapi";
import { kvKeys, kvPrefixes } from "../config/kv-keys";
import { FailPolicySchema, type TenantRecord } from "../config/schemas";
import { CallerCacheSchema } from "../cache/policy-schema";
import { randomId } from "../security/api-keys";
import { DEFAULT_IPV6_RATE_LIMIT_PREFIX, IPV6_RATE_LIMIT_PREFIX_MAX, IPV6_RATE_LIMIT_PREFIX_MIN } from "../security/ip";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { listPrefix, writeJson } from "./kv";
import { applyPatch, definedOnly, loadTenant } from "./records";
import { adminRouter, orThrow } from "./router";
import {
  adminAccess,
  CidrListSchema,
  errors,
  ConcurrencyPolicyInputSchema,
  ConcurrencyPolicySchema,
  FailPolicyInputSchema,
  idParam,
  MaxConcurrentInputSchema,
  json,
  jsonBody,
  pageOf,
  PageQuerySchema,
  QuotaListInputSchema,
  QuotaSchema,
  QuotaUsageSchema,
  quotaUsageView,
  RateLimitsInputSchema,
  RateLimitsSchema,
  TimeZoneSchema,
} from "./schemas";

const Ipv6RateLimitPrefixSchema = z
  .number()
  .int()
  .min(IPV6_RATE_LIMIT_PREFIX_MIN)
  .max(IPV6_RATE_LIMIT_PREFIX_MAX)
  .openapi({
    description: "Per-IP limits count an IPv6 caller as the network of this prefix length (default 64: one subscriber's /64); IPv4 callers are counted per address.",
    example: 64,
  });

export const TenantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(["active", "banned"]),
    ip_allowlist: z.array(z.string()),
    rate_limits: RateLimitsSchema,
    ip_rate_limits: RateLimitsSchema,
    ipv6_rate_limit_prefix: z.number().int(),
    quotas: z.array(QuotaSchema),
    weight: z.number(),
    time_zone: z.string(),
    fail_policy: FailPolicySchema,
    max_concurrent_requests: z.number().int().nullable(),
    cache: CallerCacheSchema.nullable(),
    concurrency_policy: ConcurrencyPolicySchema,
    created_at: z.string(),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi("Tenant");

const TenantDetailSchema = TenantSchema.extend({
  /** Prepaid balance of record (integer micro-units), before open holds. */
  balance_micros: z.number().int(),
  /** Reserved by requests in flight. */
  held_micros: z.number().int(),
  /** Requests in flight (open holds): the concurrency slots in use. */
  in_flight_requests: z.number().int(),
  /** Requests waiting for a slot (queue policy). */
  queued_requests: z.number().int(),
  quota_usage: z.array(QuotaUsageSchema),
}).openapi("TenantDetail");

const CreateTenantSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    ip_allowlist: CidrListSchema.optional(),
    rate_limits: RateLimitsInputSchema.optional(),
    ip_rate_limits: RateLimitsInputSchema.optional(),
    ipv6_rate_limit_prefix: Ipv6RateLimitPrefixSchema.optional(),
    quotas: QuotaListInputSchema.optional(),
    weight: z.number().positive().max(1e6).optional(),
    time_zone: TimeZoneSchema.optional(),
    fail_policy: FailPolicyInputSchema.optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.optional(),
    /** Response cache for this tenant's requests (docs/api/cache.md); a key's own setting wins. */
    cache: CallerCacheSchema.optional(),
    concurrency_policy: ConcurrencyPolicyInputSchema.optional(),
  })
  .openapi("CreateTenant");

const UpdateTenantSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    status: z.enum(["active", "banned"]).optional(),
    ip_allowlist: CidrListSchema.nullable().optional(),
    rate_limits: RateLimitsInputSchema.nullable().optional(),
    ip_rate_limits: RateLimitsInputSchema.nullable().optional(),
    ipv6_rate_limit_prefix: Ipv6RateLimitPrefixSchema.nullable().optional(),
    quotas: QuotaListInputSchema.nullable().optional(),
    weight: z.number().positive().max(1e6).nullable().optional(),
    time_zone: TimeZoneSchema.nullable().optional(),
    fail_policy: FailPolicyInputSchema.nullable().optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.nullable().optional(),
    cache: CallerCacheSchema.nullable().optional(),
    concurrency_policy: ConcurrencyPolicyInputSchema.nullable().optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), "at least one field is required")
  .openapi("UpdateTenant", { description: "Absent fields are kept; `null` clears a field back to its default." });

export function tenantView(t: TenantRecord): z.infer<typeof TenantSchema> {
  return {
    id: t.id,
    name: t.name,
    status: t.status,
    ip_allowlist: t.ip_allowlist ?? [],
    rate_limits: t.rate_limits ?? {},
    ip_rate_limits: t.ip_rate_limits ?? {},
    ipv6_rate_limit_prefix: t.ipv6_rate_limit_prefix ?? DEFAULT_IPV6_RATE_LIMIT_PREFIX,
    quotas: t.quotas ?? [],
    weight: t.weight ?? 1,
    time_zone: t.time_zone ?? "UTC",
    fail_policy: FailPolicySchema.parse(t.fail_policy ?? {}),
    max_concurrent_requests: t.max_concurrent_requests ?? null,
    cache: t.cache ?? null,
    concurrency_policy: ConcurrencyPolicySchema.parse(t.concurrency_policy ?? {}),
    created_at: t.created_at,
    updated_at: t.updated_at ?? null,
    version: t.version,
  };
}

const TenantPath = z.object({ id: idParam("id") });

const createTenant = createRoute({
  method: "post",
  path: "/tenants",
  operationId: "createTenant",
  tags: ["Tenants"],
  summary: "Create a tenant",
  ...adminAccess("config"),
  request: { body: jsonBody(CreateTenantSchema) },
  responses: { 201: json(TenantSchema, "The new tenant"), ...errors(400, 401, 503) },
});

const listTenants = createRoute({
  method: "get",
  path: "/tenants",
  operationId: "listTenants",
  tags: ["Tenants"],
  summary: "List tenants (cursor pagination, key order); a tenant-scoped token sees its own tenant only",
  ...adminAccess("config", { tenantList: true }),
  request: { query: PageQuerySchema },
  responses: { 200: json(pageOf(TenantSchema), "A page of tenants"), ...errors(400, 401, 503) },
});

const getTenant = createRoute({
  method: "get",
  path: "/tenants/{id}",
  operationId: "getTenant",
  tags: ["Tenants"],
  summary: "Read a tenant, its balance and quota usage",
  ...adminAccess("config", { tenantParam: "id" }),
  request: { params: TenantPath },
  responses: { 200: json(TenantDetailSchema, "The tenant"), ...errors(400, 401, 404, 503) },
});

const updateTenant = createRoute({
  method: "patch",
  path: "/tenants/{id}",
  operationId: "updateTenant",
  tags: ["Tenants"],
  summary: "Update a tenant (status active|banned bans or unbans at once)",
  ...adminAccess("config", { tenantParam: "id" }),
  request: { params: TenantPath, body: jsonBody(UpdateTenantSchema) },
  responses: { 200: json(TenantSchema, "The updated tenant"), ...errors(400, 401, 404, 503) },
});

export function tenantRoutes() {
  const app = adminRouter();

  app.openapi(createTenant, async (c) => {
    const body = c.req.valid("json");
    const now = new Date().toISOString();
    const id = randomId("ten");
    const record: TenantRecord = {
      id,
      name: body.name,
      status: "active",
      ...definedOnly({
        ip_allowlist: body.ip_allowlist,
        rate_limits: body.rate_limits,
        ip_rate_limits: body.ip_rate_limits,
        ipv6_rate_limit_prefix: body.ipv6_rate_limit_prefix,
        quotas: body.quotas,
        weight: body.weight,
        time_zone: body.time_zone,
        fail_policy: body.fail_policy ? FailPolicySchema.parse(body.fail_policy) : undefined,
        max_concurrent_requests: body.max_concurrent_requests,
        cache: body.cache,
        concurrency_policy: body.concurrency_policy ? ConcurrencyPolicySchema.parse(body.concurrency_policy) : undefined,
      }),
      created_at: now,
      version: 1,
    };
    orThrow(await writeJson(c.env, kvKeys.tenant(id), record));
    // Index last: a tenant that failed half-way is invisible rather than listed and broken.
    orThrow(await writeJson(c.env, kvKeys.tenantIndex(id), { id, created_at: now }));
    auditAdminWrite(c, { action: "tenant.create", resource: "tenant", resourceId: id, tenantId: id, status: 201, configVersion: 1 });
    return c.json(tenantView(record), 201);
  });

  app.openapi(listTenants, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const scoped = c.get("admin").tenantId;
    if (scoped !== null) {
      const own = await loadTenant(c.env, scoped);
      if (!own.ok && own.failure.kind !== "not_found") orThrow(own);
      return c.json({ data: own.ok && cursor === undefined ? [tenantView(own.value)] : [], next_cursor: null }, 200);
    }
    const page = orThrow(await listPrefix(c.env, kvPrefixes.tenantIndex, limit, cursor));
    const ids = page.names.map((name) => name.slice(kvPrefixes.tenantIndex.length));
    const loaded = await Promise.all(ids.map((id) => loadTenant(c.env, id)));
    const data = [];
    for (const result of loaded) {
      if (result.ok) data.push(tenantView(result.value));
      else if (result.failure.kind !== "not_found") orThrow(result);
    }
    return c.json({ data, next_cursor: page.nextCursor }, 200);
  });

  app.openapi(getTenant, async (c) => {
    const { id } = c.req.valid("param");
    const tenant = orThrow(await loadTenant(c.env, id));
    const snapshot = orThrow(await callGuard(c.env, id, "balance_unavailable", (g) => g.snapshot()));
    return c.json(
      {
        ...tenantView(tenant),
        // The Durable Object enforces the ban, so its view is the one that counts.
        status: snapshot.tenantStatus === "banned" ? ("banned" as const) : tenant.status,
        balance_micros: snapshot.balanceMicros,
        held_micros: snapshot.holdMicros,
        in_flight_requests: snapshot.openHolds,
        queued_requests: snapshot.queued,
        quota_usage: quotaUsageView(tenant.quotas, snapshot.quotas, "tenant", null),
      },
      200,
    );
  });

  app.openapi(updateTenant, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const tenant = orThrow(await loadTenant(c.env, id));
    if (body.status !== undefined) {
      // Durable Object first: every isolate consults it on every request, while KV caches lag.
      const status = body.status;
      orThrow(await callGuard(c.env, id, "auth_unavailable", (g) => g.setTenantStatus(status)));
    }
    const failPolicy = body.fail_policy === undefined || body.fail_policy === null ? body.fail_policy : FailPolicySchema.parse({ ...tenant.fail_policy, ...body.fail_policy });
    const concurrencyPolicy =
      body.concurrency_policy === undefined || body.concurrency_policy === null
        ? body.concurrency_policy
        : ConcurrencyPolicySchema.parse({ ...tenant.concurrency_policy, ...body.concurrency_policy });
    const { next, changed } = applyPatch(tenant, { ...body, fail_policy: failPolicy, concurrency_policy: concurrencyPolicy });
    const record: TenantRecord = { ...next, updated_at: new Date().toISOString(), version: tenant.version + 1 };
    orThrow(await writeJson(c.env, kvKeys.tenant(id), record));
    const action = body.status === undefined || body.status === tenant.status ? "tenant.update" : body.status === "banned" ? "tenant.ban" : "tenant.unban";
    auditAdminWrite(c, { action, resource: "tenant", resourceId: id, tenantId: id, status: 200, configVersion: record.version, details: { fields: changed } });
    return c.json(tenantView(record), 200);
  });

  return app;
}
