// Admin actions on an API key: revoke, freeze, unfreeze (the tenant's Durable Object first, so they
// apply on the very next request in every isolate) and signing-secret rotation with a grace period.
import { createRoute } from "@hono/zod-openapi";
import type { KeyStatus } from "../guard/types";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { revokeApiKey, revokedFinal, rotateSigningSecret } from "./key-operations";
import { apiKeyView, ApiKeySchema, effectiveStatus, RotatedSecretSchema, RotateSecretSchema } from "./key-views";
import { KeyPath } from "./keys";
import { loadKey } from "./records";
import { adminRouter, orThrow } from "./router";
import { adminAccess, errors, json, jsonBody } from "./schemas";

const statusRoute = (action: "revoke" | "freeze" | "unfreeze", summary: string) =>
  createRoute({
    method: "post",
    path: `/tenants/{tenant_id}/keys/{key_id}/${action}`,
    operationId: `${action}ApiKey`,
    tags: ["API keys"],
    summary,
    ...adminAccess("config", { tenantParam: "tenant_id" }),
    request: { params: KeyPath },
    responses: { 200: json(ApiKeySchema, "The key with its new status"), ...errors(400, 401, 404, 409, 503) },
  });

const revokeKey = statusRoute("revoke", "Revoke an API key (final; applies at once)");
const freezeKey = statusRoute("freeze", "Freeze an API key (applies at once; reversible)");
const unfreezeKey = statusRoute("unfreeze", "Unfreeze an API key (also clears its signature-failure count)");

const rotateSecret = createRoute({
  method: "post",
  path: "/tenants/{tenant_id}/keys/{key_id}/rotate-secret",
  operationId: "rotateApiKeySecret",
  tags: ["API keys"],
  summary: "Rotate the signing secret; the previous one stays valid for grace_seconds",
  ...adminAccess("config", { tenantParam: "tenant_id" }),
  request: { params: KeyPath, body: { content: { "application/json": { schema: RotateSecretSchema } }, required: false } },
  responses: { 200: json(RotatedSecretSchema, "The new signing secret (shown only here)"), ...errors(400, 401, 404, 409, 503) },
});

export function keyActionRoutes() {
  const app = adminRouter();

  app.openapi(revokeKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const revoked = await revokeApiKey(c.env, tenantId, keyId);
    auditAdminWrite(c, { action: "api_key.revoke", resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: revoked.version });
    return c.json(apiKeyView(revoked, "revoked"), 200);
  });

  const setGuardStatus = (action: "freeze" | "unfreeze", status: KeyStatus) =>
    app.openapi(action === "freeze" ? freezeKey : unfreezeKey, async (c) => {
      const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
      const { record } = orThrow(await loadKey(c.env, tenantId, keyId));
      if (record.status === "revoked") throw revokedFinal();
      const snapshot = orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.snapshot()));
      // The guard may know of a revocation whose KV write has not landed: never bring such a key back.
      if (snapshot.keys[keyId]?.status === "revoked") throw revokedFinal();
      orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.setKeyStatus(keyId, status)));
      auditAdminWrite(c, { action: `api_key.${action}`, resource: "api_key", resourceId: keyId, tenantId, keyId, status: 200, configVersion: record.version });
      return c.json(apiKeyView(record, effectiveStatus(record, status)), 200);
    });
  setGuardStatus("freeze", "frozen");
  setGuardStatus("unfreeze", "active");

  app.openapi(rotateSecret, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const graceSeconds = c.req.valid("json").grace_seconds ?? 86_400;
    const { rotated, secret } = await rotateSigningSecret(c.env, tenantId, keyId, graceSeconds);
    auditAdminWrite(c, {
      action: "api_key.rotate_secret",
      resource: "api_key",
      resourceId: keyId,
      tenantId,
      keyId,
      status: 200,
      configVersion: rotated.version,
      details: { grace_seconds: graceSeconds },
    });
    return c.json(secret, 200);
  });

  return app;
}
