// What creating, listing, updating, revoking and re-keying a tenant's API key does to the stores, shared by
// the admin routes (keys.ts, key-actions.ts) and tenant self-service (/external/v1/keys). Callers decide who
// may do it and audit it; failures leave as GatewayError (handled by the routers' error handlers).
import type { z } from "@hono/zod-openapi";
import type { Env } from "../env";
import { fail, GatewayError } from "../errors";
import { kvKeys, kvPrefixes } from "../config/kv-keys";
import type { ApiKeyRecord } from "../config/schemas";
import { indexOrigins, originChanges, unindexOrigins } from "../cors/origin-index";
import { API_KEY_PREFIX, generateApiKey, generateSigningSecret, hashApiKey, randomId } from "../security/api-keys";
import { sealSecret } from "../security/secret-box";
import { callGuard } from "./guard";
import { apiKeyView, effectiveStatus, type CreateApiKeySchema, type UpdateApiKeySchema } from "./key-views";
import { listPrefix, writeJson } from "./kv";
import { applyPatch, definedOnly, loadKey } from "./records";
import { orThrow } from "./router";

/** Enough of the key to recognise it in a list (about 24 of its 178 random bits). */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 4;

export type CreateApiKeyInput = z.output<typeof CreateApiKeySchema>;
export type UpdateApiKeyInput = z.output<typeof UpdateApiKeySchema>;
type ApiKeyView = ReturnType<typeof apiKeyView>;

export const revokedFinal = () => new GatewayError(fail("invalid_state", "This key is revoked; revocation is final."));

export function masterKeyOf(env: Env): string {
  if (!env.MASTER_KEY) throw new GatewayError(fail("auth_unavailable", "MASTER_KEY is not set: signing secrets cannot be sealed."));
  return env.MASTER_KEY;
}

/** A new key of the tenant (which the caller has checked exists); the key and secret are returned once. */
export async function createApiKey(env: Env, tenantId: string, body: CreateApiKeyInput): Promise<{ record: ApiKeyRecord; key: string; signingSecret: string }> {
  const master = masterKeyOf(env);
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
    ...definedOnly({
      name: body.name,
      ip_allowlist: body.ip_allowlist,
      allowed_origins: body.allowed_origins,
      expires_at: body.expires_at,
      rate_limits: body.rate_limits,
      max_concurrent_requests: body.max_concurrent_requests,
      quotas: body.quotas,
      cache: body.cache,
    }),
    created_at: now,
    version: 1,
  };
  // The origin index first: an entry left by a failed create only lets a browser ask (the key decides).
  orThrow(await indexOrigins(env, tenantId, id, record.allowed_origins ?? []));
  orThrow(await writeJson(env, kvKeys.apiKeyByHash(keyHash), record));
  // Index last: if it fails the caller never saw the key, so the orphan record can never be used.
  orThrow(await writeJson(env, kvKeys.apiKeyIndex(tenantId, id), { id, key_hash: keyHash, created_at: now }));
  return { record, key, signingSecret };
}

/** A page of the tenant's keys, with the status its Durable Object knows (freezes). */
export async function listApiKeys(env: Env, tenantId: string, limit: number, cursor: string | undefined): Promise<{ data: ApiKeyView[]; next_cursor: string | null }> {
  const prefix = kvPrefixes.apiKeyIndex(tenantId);
  const page = orThrow(await listPrefix(env, prefix, limit, cursor));
  const loaded = await Promise.all(page.names.map((name) => loadKey(env, tenantId, name.slice(prefix.length))));
  const snapshot = orThrow(await callGuard(env, tenantId, "auth_unavailable", (g) => g.snapshot()));
  const data = [];
  for (const result of loaded) {
    if (result.ok) data.push(apiKeyView(result.value.record, effectiveStatus(result.value.record, snapshot.keys[result.value.record.id]?.status)));
    else if (result.failure.kind !== "not_found") orThrow(result);
  }
  return { data, next_cursor: page.nextCursor };
}

export async function updateApiKey(env: Env, tenantId: string, keyId: string, body: UpdateApiKeyInput): Promise<{ updated: ApiKeyRecord; view: ApiKeyView; changed: string[] }> {
  const { record, keyHash } = orThrow(await loadKey(env, tenantId, keyId));
  if (record.status === "revoked") throw revokedFinal();
  // Read before writing, so an unreachable guard fails the call before anything changed.
  const snapshot = orThrow(await callGuard(env, tenantId, "auth_unavailable", (g) => g.snapshot()));
  const { next, changed } = applyPatch(record, { ...body, scopes: body.scopes === null ? {} : body.scopes });
  const updated: ApiKeyRecord = { ...next, updated_at: new Date().toISOString(), version: record.version + 1 };
  // Origins gained are indexed before the record allows them, origins lost are dropped after it no longer does.
  const origins = originChanges(record.allowed_origins, updated.allowed_origins);
  orThrow(await indexOrigins(env, tenantId, keyId, origins.added));
  orThrow(await writeJson(env, kvKeys.apiKeyByHash(keyHash), updated));
  orThrow(await unindexOrigins(env, keyId, origins.removed));
  return { updated, view: apiKeyView(updated, effectiveStatus(updated, snapshot.keys[keyId]?.status)), changed };
}

/** Final, and at once: the tenant's Durable Object first (every isolate asks it), then KV for the record. */
export async function revokeApiKey(env: Env, tenantId: string, keyId: string): Promise<ApiKeyRecord> {
  const { record, keyHash } = orThrow(await loadKey(env, tenantId, keyId));
  orThrow(await callGuard(env, tenantId, "auth_unavailable", (g) => g.setKeyStatus(keyId, "revoked")));
  const revoked: ApiKeyRecord = { ...record, status: "revoked", updated_at: new Date().toISOString(), version: record.version + 1 };
  orThrow(await writeJson(env, kvKeys.apiKeyByHash(keyHash), revoked));
  // A revoked key no longer lets a browser origin even ask (its record keeps the list, for the record).
  orThrow(await unindexOrigins(env, keyId, record.allowed_origins ?? []));
  return revoked;
}

export interface RotatedSecret {
  id: string;
  signing_secret: string;
  secret_rotated_at: string;
  previous_secret_expires_at: string | null;
}

/** A new signing secret (returned once); the previous one stays valid for `graceSeconds`. */
export async function rotateSigningSecret(env: Env, tenantId: string, keyId: string, graceSeconds: number): Promise<{ rotated: ApiKeyRecord; secret: RotatedSecret }> {
  const { record, keyHash } = orThrow(await loadKey(env, tenantId, keyId));
  if (record.status === "revoked") throw revokedFinal();
  const master = masterKeyOf(env);
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
  orThrow(await writeJson(env, kvKeys.apiKeyByHash(keyHash), rotated));
  return {
    rotated,
    secret: { id: keyId, signing_secret: signingSecret, secret_rotated_at: rotated.secret_rotated_at!, previous_secret_expires_at: rotated.previous_secret_expires_at ?? null },
  };
}
