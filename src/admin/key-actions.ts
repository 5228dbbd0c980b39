// Admin actions on an API key: revoke, freeze, unfreeze (the tenant's Durable Object first, so they
// apply on the very next request in every isolate) and signing-secret rotation with a grace period.
import { createRoute } from "@hono/zod-openapi";
import { fail, GatewayError } from "../errors";
import { kvKeys } from "../config/kv-keys";
import type { ApiKeyRecord } from "../config/schemas";
import type { KeyStatus } from "../guard/types";
import { generateSigningSecret } from "../security/api-keys";
import { sealSecret } from "../security/secret-box";
import { auditAdminWrite } from "./audit";
import { callGuard } from "./guard";
import { apiKeyView, ApiKeySchema, effectiveStatus, RotatedSecretSchema, RotateSecretSchema } from "./key-views";
import { KeyPath, masterKeyOf } from "./keys";
import { writeJson } from "./kv";
import { unindexOrigins } from "../cors/origin-index";
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

const revokedFinal = () => new GatewayError(fail("invalid_state", "This key is revoked; revocation is final."));

export function keyActionRoutes() {
  const app = adminRouter();

  app.openapi(revokeKey, async (c) => {
    const { tenant_id: tenantId, key_id: keyId } = c.req.valid("param");
    const { record, keyHash } = orThrow(await loadKey(c.env, tenantId, keyId));
    orThrow(await callGuard(c.env, tenantId, "auth_unavailable", (g) => g.setKeyStatus(keyId, "revoked")));
    // Also in KV, so the revocation survives the Durable Object's state and shows in the record.
    const revoked: ApiKeyRecord = { ...record, status: "revoked", updated_at: new Date().toISOString(), version: record.version + 1 };
    orThrow(await writeJson(c.env, kvKeys.apiKeyByHash(keyHash), revoked));
    // A revoked key no longer lets a browser origin even ask (its record keeps the list, for the record).
    orThrow(await unindexOrigins(c.env, keyId, record.allowed_origins ?? []));
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
    const { record, keyHash } = orThrow(await loadKey(c.env, tenantId, keyId));
    if (record.status === "revoked") throw revokedFinal();
    const master = masterKeyOf(c.env);
    const signingSecret = generateSigningSecret();
    const now = Date.now();
    const rotated: ApiKeyRecord = {
      ...record,
      signing_secret_sealed: await sealSecret(master, signingSecret, keyId),
      secret_rotated_at: new Date(now).toISOString(),
      updated_at: new Date(now).toISOString(),
      version: record.version + 1,
    };
    // Only one previous secret is kept: rotating again inside the grace period retires the oldest at once.
    delete rotated.previous_signing_secret_sealed;
    delete rotated.previous_secret_expires_at;
    if (graceSeconds > 0 && record.signing_secret_sealed) {
      rotated.previous_signing_secret_sealed = record.signing_secret_sealed;
      rotated.previous_secret_expires_at = new Date(now + graceSeconds * 1000).toISOString();
    }
    orThrow(await writeJson(c.env, kvKeys.apiKeyByHash(keyHash), rotated));
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
    return c.json(
      { id: keyId, signing_secret: signingSecret, secret_rotated_at: rotated.secret_rotated_at!, previous_secret_expires_at: rotated.previous_secret_expires_at ?? null },
      200,
    );
  });

  return app;
}
