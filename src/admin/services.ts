// Admin routes for internal-channel service tokens: create (the token is shown once and stored
// only as its SHA-256), list, read, update, revoke (the service's Durable Object first).
import { createRoute, z } from "@hono/zod-openapi";
import { fail, GatewayError } from "../errors";
import { kvKeys, kvPrefixes } from "../config/kv-keys";
import type { ServiceRecord } from "../config/schemas";
import { generateServiceToken, hashApiKey, randomId, SERVICE_TOKEN_PREFIX } from "../security/api-keys";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { listPrefix, writeJson } from "./kv";
import { applyPatch, definedOnly, loadService } from "./records";
import { adminRouter, orThrow } from "./router";
import { SERVICE_PRIORITY_CLASSES } from "../backpressure/priority-classes";
import { adminAccess, errors, idParam, json, jsonBody, MaxConcurrentInputSchema, pageOf, PageQuerySchema, RateLimitsInputSchema, RateLimitsSchema, ScopesInputSchema, ScopesSchema } from "./schemas";

const ServiceSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string().nullable(),
    status: z.enum(["active", "revoked"]),
    scopes: ScopesSchema,
    operations: z.boolean().openapi({ description: "May read operations data: metrics, readiness, the ops dashboard." }),
    rate_limits: RateLimitsSchema,
    max_concurrent_requests: z.number().int().nullable(),
    priority_class: z.enum(SERVICE_PRIORITY_CLASSES),
    created_at: z.string(),
    updated_at: z.string().nullable(),
    version: z.number().int(),
  })
  .openapi("Service");

const CreatedServiceSchema = ServiceSchema.extend({
  token: z.string().openapi({ description: "The service token. Shown only in this response: store it now." }),
}).openapi("CreatedService");

const PriorityClassInputSchema = z.enum(SERVICE_PRIORITY_CLASSES).openapi({
  description: "How this service's requests are shed when an upstream target's slots run short (docs/api/rate-limit.md); default interactive_internal.",
});

const CreateServiceSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    scopes: ScopesInputSchema.optional(),
    operations: z.boolean().optional().openapi({ description: "Grant the operations scope (metrics, readiness, dashboard). Default false." }),
    rate_limits: RateLimitsInputSchema.optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.optional(),
    priority_class: PriorityClassInputSchema.optional(),
  })
  .openapi("CreateService");

const UpdateServiceSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    scopes: ScopesInputSchema.nullable().optional(),
    operations: z.boolean().optional(),
    rate_limits: RateLimitsInputSchema.nullable().optional(),
    max_concurrent_requests: MaxConcurrentInputSchema.nullable().optional(),
    priority_class: PriorityClassInputSchema.nullable().optional(),
  })
  .refine((body) => Object.values(body).some((v) => v !== undefined), "at least one field is required")
  .openapi("UpdateService", { description: "Absent fields are kept; `null` clears a field." });

function serviceView(s: ServiceRecord): z.infer<typeof ServiceSchema> {
  return {
    id: s.id,
    name: s.name,
    prefix: s.prefix ?? null,
    status: s.status,
    scopes: s.scopes,
    operations: s.operations,
    rate_limits: s.rate_limits ?? {},
    max_concurrent_requests: s.max_concurrent_requests ?? null,
    priority_class: s.priority_class ?? "interactive_internal",
    created_at: s.created_at,
    updated_at: s.updated_at ?? null,
    version: s.version,
  };
}

const ServicePath = z.object({ id: idParam("id") });
const common = { tags: ["Services"], ...adminAccess("config") };

const createService = createRoute({
  ...common,
  method: "post",
  path: "/services",
  operationId: "createService",
  summary: "Create an internal service token (shown only in this response)",
  request: { body: jsonBody(CreateServiceSchema) },
  responses: { 201: json(CreatedServiceSchema, "The new service, with its plaintext token"), ...errors(400, 401, 503) },
});
const listServices = createRoute({
  ...common,
  method: "get",
  path: "/services",
  operationId: "listServices",
  summary: "List services",
  request: { query: PageQuerySchema },
  responses: { 200: json(pageOf(ServiceSchema), "A page of services (never the token)"), ...errors(400, 401, 503) },
});
const getService = createRoute({
  ...common,
  method: "get",
  path: "/services/{id}",
  operationId: "getService",
  summary: "Read a service",
  request: { params: ServicePath },
  responses: { 200: json(ServiceSchema, "The service (never the token)"), ...errors(400, 401, 404, 503) },
});
const updateService = createRoute({
  ...common,
  method: "patch",
  path: "/services/{id}",
  operationId: "updateService",
  summary: "Update a service",
  request: { params: ServicePath, body: jsonBody(UpdateServiceSchema) },
  responses: { 200: json(ServiceSchema, "The updated service"), ...errors(400, 401, 404, 409, 503) },
});
const revokeService = createRoute({
  ...common,
  method: "post",
  path: "/services/{id}/revoke",
  operationId: "revokeService",
  summary: "Revoke a service token (final; applies at once)",
  request: { params: ServicePath },
  responses: { 200: json(ServiceSchema, "The revoked service"), ...errors(400, 401, 404, 503) },
});

export function serviceRoutes() {
  const app = adminRouter();

  app.openapi(createService, async (c) => {
    const body = c.req.valid("json");
    const id = randomId("svc");
    const token = generateServiceToken();
    const tokenHash = await hashApiKey(token);
    const now = new Date().toISOString();
    const record: ServiceRecord = {
      id,
      name: body.name,
      status: "active",
      scopes: body.scopes ?? {},
      operations: body.operations ?? false,
      prefix: token.slice(0, SERVICE_TOKEN_PREFIX.length + 4),
      ...definedOnly({ rate_limits: body.rate_limits, max_concurrent_requests: body.max_concurrent_requests, priority_class: body.priority_class }),
      created_at: now,
      version: 1,
    };
    orThrow(await writeJson(c.env, kvKeys.serviceByHash(tokenHash), record));
    orThrow(await writeJson(c.env, kvKeys.serviceIndex(id), { id, token_hash: tokenHash, created_at: now }));
    auditAdminWrite(c, { action: "service.create", resource: "service", resourceId: id, keyId: id, status: 201, configVersion: 1 });
    return c.json({ ...serviceView(record), token }, 201);
  });

  app.openapi(listServices, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const page = orThrow(await listPrefix(c.env, kvPrefixes.serviceIndex, limit, cursor));
    const loaded = await Promise.all(page.names.map((name) => loadService(c.env, name.slice(kvPrefixes.serviceIndex.length))));
    const data = [];
    for (const result of loaded) {
      if (result.ok) data.push(serviceView(result.value.record));
      else if (result.failure.kind !== "not_found") orThrow(result);
    }
    return c.json({ data, next_cursor: page.nextCursor }, 200);
  });

  app.openapi(getService, async (c) => {
    const { record } = orThrow(await loadService(c.env, c.req.valid("param").id));
    return c.json(serviceView(record), 200);
  });

  app.openapi(updateService, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const { record, tokenHash } = orThrow(await loadService(c.env, id));
    if (record.status === "revoked") throw new GatewayError(fail("invalid_state", "This service token is revoked; revocation is final."));
    const { next, changed } = applyPatch(record, { ...body, scopes: body.scopes === null ? {} : body.scopes });
    const updated: ServiceRecord = { ...next, updated_at: new Date().toISOString(), version: record.version + 1 };
    orThrow(await writeJson(c.env, kvKeys.serviceByHash(tokenHash), updated));
    auditAdminWrite(c, { action: "service.update", resource: "service", resourceId: id, keyId: id, status: 200, configVersion: updated.version, details: { fields: changed } });
    return c.json(serviceView(updated), 200);
  });

  app.openapi(revokeService, async (c) => {
    const { id } = c.req.valid("param");
    const { record, tokenHash } = orThrow(await loadService(c.env, id));
    // A service's limits live in its own guard (named by the service id), which admits every internal call.
    orThrow(await callGuard(c.env, id, "auth_unavailable", (g) => g.setKeyStatus(id, "revoked")));
    const revoked: ServiceRecord = { ...record, status: "revoked", updated_at: new Date().toISOString(), version: record.version + 1 };
    orThrow(await writeJson(c.env, kvKeys.serviceByHash(tokenHash), revoked));
    auditAdminWrite(c, { action: "service.revoke", resource: "service", resourceId: id, keyId: id, status: 200, configVersion: revoked.version });
    return c.json(serviceView(revoked), 200);
  });

  return app;
}
