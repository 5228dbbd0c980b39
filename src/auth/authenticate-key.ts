// Authenticates a tenant API key (external channel): format and checksum before any lookup, the
// key record and its tenant from the config cache, revocation, expiry, ban and IP allowlists.
// A store failure answers 503 (fail closed), never 401 and never lets the request through.
import type { Env } from "../env";
import { configStore } from "../config/store";
import type { ApiKeyRecord, TenantRecord } from "../config/schemas";
import { err, fail, ok, type Result } from "../errors";
import { credentialHash, isWellFormedApiKey } from "../security/api-keys";
import { ipInAllowlist } from "../security/ip";
import { originAllowed } from "../cors/origin-patterns";

export interface AuthenticatedKey {
  key: ApiKeyRecord;
  tenant: TenantRecord;
}

/**
 * @param browserOrigin the Origin of a cross-origin browser request (src/cors/origin-patterns.ts crossOrigin), null otherwise:
 *   the key must list it in `allowed_origins`; a key with none refuses every browser origin.
 */
export async function authenticateApiKey(env: Env, presented: string, clientIp: string | null, now: number, browserOrigin: string | null = null): Promise<Result<AuthenticatedKey>> {
  if (!isWellFormedApiKey(presented)) return err(fail("invalid_api_key", "Incorrect API key provided."));
  const record = await configStore.apiKeyByHash(env, await credentialHash(presented));
  if (!record.ok) return err(fail("auth_unavailable", "The key store is unavailable; try again shortly."));
  const key = record.value;
  if (!key) return err(fail("invalid_api_key", "Incorrect API key provided."));
  const tenantRead = await configStore.tenant(env, key.tenant_id);
  if (!tenantRead.ok) return err(fail("auth_unavailable", "The key store is unavailable; try again shortly."));
  const tenant = tenantRead.value;
  if (!tenant) return err(fail("invalid_api_key", "Incorrect API key provided."));
  if (tenant.status === "banned") return err(fail("tenant_banned", "This tenant is banned."));
  if (key.status === "revoked") return err(fail("key_revoked", "This API key has been revoked."));
  // An expiry that does not parse counts as passed: NaN compares false, which would otherwise never expire.
  if (key.expires_at !== undefined && !(Date.parse(key.expires_at) > now)) return err(fail("key_expired", "This API key has expired."));
  // Only CF-Connecting-IP counts (set by Cloudflare's edge); X-Forwarded-For is client-controlled.
  for (const allowlist of [tenant.ip_allowlist, key.ip_allowlist]) {
    if (allowlist && allowlist.length > 0 && (clientIp === null || !ipInAllowlist(clientIp, allowlist))) {
      return err(fail("ip_not_allowed", "Requests from this address are not allowed for this key."));
    }
  }
  if (browserOrigin !== null && !originAllowed(key.allowed_origins, browserOrigin)) {
    return err(fail("origin_not_allowed", "This key may not be used from this browser origin (see the key's allowed_origins)."));
  }
  return ok({ key, tenant });
}
