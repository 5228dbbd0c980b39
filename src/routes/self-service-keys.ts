// Tenant self-service on the external channel: a key holding `keys:manage` creates, lists, reads, updates,
// rotates (signing secret) and revokes its own tenant's keys at /external/v1/keys, signed like any external
// call (tenantAuth, which verifies the body too). The tenant comes only from the calling key: another
// tenant's key id is an unknown one (404). Settings stay within the tenant's limits and the caller's own
// scopes (self-service-bounds.ts). Every write is audited with the acting key.
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { auditAdminWrite } from "../admin/audit";
import { callGuard } from "../admin/guard";
import { createApiKey, listApiKeys, revokeApiKey, rotateSigningSecret, updateApiKey } from "../admin/key-operations";
import {
  apiKeyDetailView,
  apiKeyView,
  ApiKeyDetailSchema,
  ApiKeySchema,
  CreateApiKeySchema,
  CreatedApiKeySchema,
  RotatedSecretSchema,
  RotateSecretSchema,
  UpdateApiKeySchema,
} from "../admin/key-views";
import { loadKey, loadTenant } from "../admin/records";
import { adminRouter, handleAdminError, orThrow } from "../admin/router";
import { ErrorSchema, idParam, json, jsonBody, pageOf, PageQuerySchema } from "../admin/schemas";
import { tenantAuth } from "../auth/middleware";
import { errorResponse, fail, GatewayError } from "../errors";
import { beyondTenant, scopesWithin } from "./self-service-bounds";

/** Only keys holding the permission manage keys; the rest of the tenant's keys are refused (403). */
function requireKeysManage(): MiddlewareHandler<AppEnv> {
  return async function requireKeysManage(c, next) {
    if (!(c.get("principal").scopes.permissions ?? []).includes("keys:manage")) {
      return errorResponse(fail("insufficient_role", "This key lacks the keys:manage permission."), c.get("traceId"));
    }
    await next();
  };
}

const KeyPath = z.object({ key_id: idParam("key_id") });
const errors = {
  400: json(ErrorSchema, "Invalid settings, or settings beyond the tenant's limits or your key's scopes (`invalid_request` with `param`)"),
  401: json(ErrorSchema, "Missing, invalid, stale or replayed credentials"),
  403: json(ErrorSchema, "The key lacks keys:manage (`insufficient_role`), or ip_not_allowed, key_frozen, key_revoked, tenant_banned"),
  404: json(ErrorSchema, "No such key in your tenant (`not_found`)"),
  503: json(ErrorSchema, "A store or the tenant's Durable Object is unavailable"),
};
const common = { tags: ["Account (external)"], security: [{ ApiKey: [] }], middleware: [tenantAuth(), requireKeysManage()] };

const createKey = createRoute({
  ...common,
  method: "post",
  path: "/keys",
  operationId: "createOwnApiKey",
  summary: "Create a key of your own tenant (key and signing secret shown only here); scopes default to your key's",
  request: { body: jsonBody(CreateApiKeySchema) },
  responses: { 201: json(CreatedApiKeySchema, "The new key, with its plaintext key and signing secret"), ...errors },
});
const listKeys = createRoute({
  ...common,
  method: "get",
  path: "/keys",
  operationId: "listOwnApiKeys",
  summary: "List your tenant's keys",
  request: { query: PageQuerySchema },
  responses: { 200: json(pageOf(ApiKeySchema), "A page of keys (never a key or secret)"), ...errors },
});
const getKey = createRoute({
  ...common,
  method: "get",
  path: "/keys/{key_id}",
  operationId: "getOwnApiKey",
  summary: "Read one of your tenant's keys and its quota usage",
  request: { params: KeyPath },
  responses: { 200: json(ApiKeyDetailSchema, "The key"), ...errors },
});
const updateKey = createRoute({
  ...common,
  method: "patch",
  path: "/keys/{key_id}",
  operationId: "updateOwnApiKey",
  summary: "Update one of your tenant's keys: limits, scopes, IP allowlist, origins (within the tenant's limits)",
  request: { params: KeyPath, body: jsonBody(UpdateApiKeySchema) },
  responses: { 200: json(ApiKeySchema, "The updated key"), ...errors, 409: json(ErrorSchema, "The key is revoked (`invalid_state`)") },
});
const rotateKey = createRoute({
  ...common,
  method: "post",
  path: "/keys/{key_id}/rotate",
  operationId: "rotateOwnApiKeySecret",
  summary: "Rotate a key's signing secret; the previous one stays valid for grace_seconds",
  request: { params: KeyPath, body: { content: { "application/json": { schema: RotateSecretSchema } }, required: false } },
  responses: { 200: json(RotatedSecretSchema, "The new signing secret (shown only here)"), ...errors, 409: json(ErrorSchema, "The key is revoked (`invalid_state`)") },
});
const revokeKey = createRoute({
  ...common,
  method: "post",
  path: "/keys/{key_id}/revoke",
  operationId: "revokeOwnApiKey",
  summary: "Revoke one of your tenant's keys (final; refused from its very next request)",
  request: { params: KeyPath },
  responses: { 200: json(ApiKeySchema, "The revoked key"), ...errors },
});

const ROUTES = [createKey, listKeys, getKey, updateKey, rotateKey, revokeKey];

/** In the OpenAPI document under /external/v1 (the routes are mounted there by gatewayRoutes). */
export function registerSelfServicePaths(registry: OpenAPIHono["openAPIRegistry"]): void {
  for (const { middleware: _auth, ...route } of ROUTES) registry.registerPath({ ...route, path: `/external/v1${route.path}` });
}

export function selfServiceKeyRoutes(): OpenAPIHono<AppEnv> {
  const app = adminRouter();
  app.onError(handleAdminError);

  app.openapi(createKey, async (c) => {
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const tenant = orThrow(await loadTenant(c.env, principal.tenantId));
    const scopes = orThrow(scopesWithin(body.scopes, principal.scopes));
    const refusal = beyondTenant(body, tenant);
    if (refusal) throw new GatewayError(refusal);
    const { record, key, signingSecret } = await createApiKey(c.env, tenant.id, { ...body, scopes });
    auditAdminWrite(c, { action: "api_key.create", resource: "api_key", resourceId: record.id, tenantId: tenant.id, keyId: record.id, status: 201, configVersion: 1, details: { via: "self_service" } });
    return c.json({ ...apiKeyView(record, "active"), key, signing_secret: signingSecret }, 201);
  });

  app.openapi(listKeys, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    return c.json(await listApiKeys(c.env, c.get("principal").tenantId, limit, cursor), 200);
  });

  app.openapi(getKey, async (c) => {
    const tenantId = c.get("principal").tenantId;
    const { record } = orThrow(await loadKey(c.env, tenantId, c.req.valid("param").key_id));
    const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
    return c.json(apiKeyDetailView(record, snapshot), 200);
  });

  app.openapi(updateKey, async (c) => {
    const principal = c.get("principal");
    const keyId = c.req.valid("param").key_id;
    const body = c.req.valid("json");
    const tenant = orThrow(await loadTenant(c.env, principal.tenantId));
    const scopes = body.scopes === undefined ? undefined : orThrow(scopesWithin(body.scopes, principal.scopes));
    const refusal = beyondTenant(body, tenant);
    if (refusal) throw new GatewayError(refusal);
    const { updated, view, changed } = await updateApiKey(c.env, tenant.id, keyId, { ...body, scopes });
    auditAdminWrite(c, { action: "api_key.update", resource: "api_key", resourceId: keyId, tenantId: tenant.id, keyId, status: 200, configVersion: updated.version, details: { fields: changed, via: "self_service" } });
    return c.json(view, 200);
  });

  app.openapi(rotateKey, async (c) => {
    const tenantId = c.get("principal").tenantId;
    const keyId = c.req.valid("param").key_id;
    const graceSeconds = c.req.valid("json").grace_seconds ?? 86_400;
    const { rotated, secret } = await rotateSigningSecret(c.env, tenantId, keyId, graceSeconds);
    auditAdminWrite(c, { action: "api_key.rotate_secret", resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: rotated.version, details: { grace_seconds: graceSeconds, via: "self_service" } });
    return c.json(secret, 200);
  });

  app.openapi(revokeKey, async (c) => {
    const tenantId = c.get("principal").tenantId;
    const keyId = c.req.valid("param").key_id;
    const revoked = await revokeApiKey(c.env, tenantId, keyId);
    auditAdminWrite(c, { action: "api_key.revoke", resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: revoked.version, details: { via: "self_service" } });
    return c.json(apiKeyView(revoked, "revoked"), 200);
  });

  return app;
}
