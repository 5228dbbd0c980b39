// Admin routes for a tenant's API keys: create (the plaintext key and signing secret are returned
// once, stored only as a hash and a sealed secret), list, read, update.
import { createRoute, z } from "@hono/zod-openapi";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { createApiKey, listApiKeys, updateApiKey } from "./key-operations";
import { apiKeyDetailView, apiKeyView, ApiKeyDetailSchema, ApiKeySchema, CreateApiKeySchema, CreatedApiKeySchema, UpdateApiKeySchema } from "./key-views";
import { loadKey, loadTenant } from "./records";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, idParam, json, jsonBody, pageOf, PageQuerySchema } from "./schemas";

export const TenantKeysPath = z.object({ tenant_id: idParam("tenant_id") });
export const KeyPath = z.object({ tenant_id: idParam("tenant_id"), key_id: idParam("key_id") });

const createKey = createRoute({
  method: "post",
  path: "/tenants/{tenant_id}/keys",
  operationId: "createApiKey",
  tags: ["API keys"],
  summary: "Create an API key (the key and signing secret are shown only in this response)",
  ...adminAccess("config", { tenantParam: "tenant_id" }),
  request: { params: TenantKeysPath, body: jsonBody(CreateApiKeySchema) },
  responses: { 201: json(CreatedApiKeySchema, "The new key, with its plaintext key and signing secret"), ...errors(400, 401, 404, 503) },
});

const listKeys = createRoute({
  method: "get",
  path: "/tenants/{tenant_id}/keys",
  operationId: "listApiKeys",
  tags: ["API keys"],
  summary: "List a tenant's API keys",
  ...adminAccess("config", { tenantParam: "tenant_id" }),
  request: { params: TenantKeysPath, query: PageQuerySchema },
  responses: { 200: json(pageOf(ApiKeySchema), "A page of keys (never the key or secret)"), ...errors(400, 401, 404, 503) },
});

const getKey = createRoute({
  method: "get",
  path: "/tenants/{tenant_id}/keys/{key_id}",
  operationId: "getApiKey",
  tags: ["API keys"],
  summary: "Read an API key and its quota usage",
  ...adminAccess("config", { tenantParam: "tenant_id" }),
  request: { params: KeyPath },
  responses: { 200: json(ApiKeyDetailSchema, "The key (never the key or secret)"), ...errors(400, 401, 404, 503) },
});

const updateKey = createRoute({
  method: "patch",
  path: "/tenants/{tenant_id}/keys/{key_id}",
  operationId: "updateApiKey",
  tags: ["API keys"],
  summary: "Update an API key's settings",
  ...adminAccess("config", { tenantParam: "tenant_id" }),
  request: { params: KeyPath, body: jsonBody(UpdateApiKeySchema) },
  responses: { 200: json(ApiKeySchema, "The updated key"), ...errors(400, 401, 404, 409, 503) },
});

export function keyRoutes() {
  const app = adminRouter();

  app.openapi(createKey, async (c) => {
    const { tenant_id: tenantId } = c.req.valid("param");
    orThrow(await loadTenant(c.env, tenantId));
    const { record, key, signingSecret } = await createApiKey(c.env, tenantId, c.req.valid("json"));
    auditAdminWrite(c, { action: "api_key.create", resource: "api_key", resourceId: record.id, tenantId, keyId: record.id, status: 201, configVersion: 1 });
    return c.json({ ...apiKeyView(record, "active"), key, signing_secret: signingSecret }, 201);
  });

  app.openapi(listKeys, async (c) => {
    const { tenant_id: tenantId } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    orThrow(await loadTenant(c.env, tenantId));
    return c.json(await listApiKeys(c.env, tenantId, limit, cursor), 200);
  });

  app.openapi(getKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const { record } = orThrow(await loadKey(c.env, tenantId, keyId));
    const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
    return c.json(apiKeyDetailView(record, snapshot), 200);
  });

  app.openapi(updateKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const { updated, view, changed } = await updateApiKey(c.env, tenantId, keyId, c.req.valid("json"));
    auditAdminWrite(c, { action: "api_key.update", resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: updated.version, details: { fields: changed } });
    return c.json(view, 200);
  });

  return app;
}
