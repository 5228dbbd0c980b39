// Admin routes for a tenant's API keys: create (the plaintext key and signing secret are returned
// once, stored only as a hash and a sealed secret), list, read, update.
import { createRoute, z } from "@hono/zod-openapi";
import type { Env } from "../env";
import { fail, GatewayError } from "../errors";
import { kvKeys, kvPrefixes } from "../config/kv-keys";
import type { ApiKeyRecord } from "../config/schemas";
import { API_KEY_PREFIX, generateApiKey, generateSigningSecret, hashApiKey, randomId } from "../security/api-keys";
import { sealSecret } from "../security/secret-box";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { apiKeyDetailView, apiKeyView, ApiKeyDetailSchema, ApiKeySchema, CreateApiKeySchema, CreatedApiKeySchema, effectiveStatus, UpdateApiKeySchema } from "./key-views";
import { listPrefix, writeJson } from "./kv";
import { indexOrigins, originChanges, unindexOrigins } from "../cors/origin-index";
import { applyPatch, definedOnly, loadKey, loadTenant } from "./records";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, idParam, json, jsonBody, pageOf, PageQuerySchema } from "./schemas";

/** Enough of the key to recognise it in a list (about 24 of its 178 random bits). */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 4;

export const TenantKeysPath = z.object({ tenant_id: idParam("tenant_id") });
export const KeyPath = z.object({ tenant_id: idParam("tenant_id"), key_id: idParam("key_id") });

export function masterKeyOf(env: Env): string {
  if (!env.MASTER_KEY) throw new GatewayError(fail("auth_unavailable", "MASTER_KEY is not set: signing secrets cannot be sealed."));
  return env.MASTER_KEY;
}

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
    const body = c.req.valid("json");
    orThrow(await loadTenant(c.env, tenantId));
    const master = masterKeyOf(c.env);
    const id = randomId("key");
    const key = generateApiKey();
    const signingSecret = generateSigningSecret();
    const keyHash = await hashApiKey(key);
    const now = new Date().toISOString();
    const record: ApiKeyRecord = {
      id,
      tenant_id: tenantId,
      prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
      status: "active",
      scopes: body.scopes ?? {},
      signature: body.signature,
      // Bound to the key id, so a sealed secret copied onto another record does not open.
      signing_secret_sealed: await sealSecret(master, signingSecret, id),
      ...definedOnly({ name: body.name, ip_allowlist: body.ip_allowlist, allowed_origins: body.allowed_origins, expires_at: body.expires_at, rate_limits: body.rate_limits, max_concurrent_requests: body.max_concurrent_requests, quotas: body.quotas }),
      created_at: now,
      version: 1,
    };
    // The origin index first: an entry left by a failed create only lets a browser ask (the key decides).
    orThrow(await indexOrigins(c.env, tenantId, id, record.allowed_origins ?? []));
    orThrow(await writeJson(c.env, kvKeys.apiKeyByHash(keyHash), record));
    // Index last: if it fails the caller never saw the key, so the orphan record can never be used.
    orThrow(await writeJson(c.env, kvKeys.apiKeyIndex(tenantId, id), { id, key_hash: keyHash, created_at: now }));
    auditAdminWrite(c, { action: "api_key.create", resource: "api_key", resourceId: id, tenantId, keyId: id, status: 201, configVersion: 1 });
    return c.json({ ...apiKeyView(record, "active"), key, signing_secret: signingSecret }, 201);
  });

  app.openapi(listKeys, async (c) => {
    const { tenant_id: tenantId } = c.req.valid("param");
    const { limit, cursor } = c.req.valid("query");
    orThrow(await loadTenant(c.env, tenantId));
    const prefix = kvPrefixes.apiKeyIndex(tenantId);
    const page = orThrow(await listPrefix(c.env, prefix, limit, cursor));
    const loaded = await Promise.all(page.names.map((name) => loadKey(c.env, tenantId, name.slice(prefix.length))));
    const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
    const data = [];
    for (const result of loaded) {
      if (result.ok) data.push(apiKeyView(result.value.record, effectiveStatus(result.value.record, snapshot.keys[result.value.record.id]?.status)));
      else if (result.failure.kind !== "not_found") orThrow(result);
    }
    return c.json({ data, next_cursor: page.nextCursor }, 200);
  });

  app.openapi(getKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const { record } = orThrow(await loadKey(c.env, tenantId, keyId));
    const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
    return c.json(apiKeyDetailView(record, snapshot), 200);
  });

  app.openapi(updateKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const body = c.req.valid("json");
    const { record, keyHash } = orThrow(await loadKey(c.env, tenantId, keyId));
    if (record.status === "revoked") throw new GatewayError(fail("invalid_state", "This key is revoked; revocation is final."));
    // Read before writing, so an unreachable guard fails the call before anything changed.
    const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
    const { next, changed } = applyPatch(record, { ...body, scopes: body.scopes === null ? {} : body.scopes });
    const updated: ApiKeyRecord = { ...next, updated_at: new Date().toISOString(), version: record.version + 1 };
    // Origins gained are indexed before the record allows them, origins lost are dropped after it no longer does.
    const origins = originChanges(record.allowed_origins, updated.allowed_origins);
    orThrow(await indexOrigins(c.env, tenantId, keyId, origins.added));
    orThrow(await writeJson(c.env, kvKeys.apiKeyByHash(keyHash), updated));
    orThrow(await unindexOrigins(c.env, keyId, origins.removed));
    auditAdminWrite(c, { action: "api_key.update", resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: updated.version, details: { fields: changed } });
    return c.json(apiKeyView(updated, effectiveStatus(updated, snapshot.keys[keyId]?.status)), 200);
  });

  return app;
}
