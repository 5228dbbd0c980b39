// Step verify_signature (external channel): authenticates the tenant's API key, then checks the
// request's HMAC signature (timestamp window, nonce format, signature over the canonical request).
// The nonce itself is checked for replay by the TenantGuard in the same admit() call as the limits.
import { guardFor } from "../objects";
import type { GatewayContext, Principal } from "../context";
import { quotaRules, type ApiKeyRecord } from "../config/schemas";
import { authenticateApiKey } from "../auth/authenticate-key";
import { credentialFrom } from "../auth/credentials";
import { fail, type GatewayFailure } from "../errors";
import type { GatewayStep } from "./types";
import { openSecret } from "../security/secret-box";
import { canonicalRequest, parseSignatureHeaders, SIGNATURE_HEADER, verifySignature } from "../security/signature";
import { sha256Hex } from "../security/encoding";

// Opened signing secrets by key id and sealed value: AES-GCM runs once per secret per isolate, not per
// request. The key id is part of the cache key because it is the seal's context: a sealed value copied
// onto another key's record must fail to open there, not be served from the cache.
const openedSecrets = new Map<string, Promise<string | null>>();

function openCached(masterKey: string, sealed: string, keyId: string): Promise<string | null> {
  const cacheKey = `${keyId}\n${sealed}`;
  let opened = openedSecrets.get(cacheKey);
  if (!opened) {
    if (openedSecrets.size > 10_000) openedSecrets.clear();
    opened = openSecret(masterKey, sealed, keyId);
    openedSecrets.set(cacheKey, opened);
  }
  return opened;
}

/** The secrets a signature may be made with: the current one, and the previous one during a rotation's grace period. */
async function signingSecrets(call: Pick<ExternalCall, "env" | "receivedAt">, key: ApiKeyRecord): Promise<string[] | GatewayFailure> {
  const master = call.env.MASTER_KEY;
  if (!master) return fail("auth_unavailable", "Request signing is not configured on this gateway.");
  const sealed = [key.signing_secret_sealed];
  if (key.previous_signing_secret_sealed && key.previous_secret_expires_at && Date.parse(key.previous_secret_expires_at) > call.receivedAt) {
    sealed.push(key.previous_signing_secret_sealed);
  }
  const secrets: string[] = [];
  for (const s of sealed) {
    if (!s) continue;
    const opened = await openCached(master, s, key.id);
    if (opened === null) return fail("auth_unavailable", "The key's signing secret cannot be read.");
    secrets.push(opened);
  }
  return secrets;
}

/** What a signed-or-bearer external request is checked with; the pipeline's context satisfies it. */
export interface ExternalCall {
  request: Request;
  rawBody: Uint8Array;
  env: GatewayContext["env"];
  exec: ExecutionContext;
  clientIp: string | null;
  receivedAt: number;
}

async function checkSignature(call: ExternalCall, key: ApiKeyRecord): Promise<GatewayFailure | { nonce: string; timestamp: number } | undefined> {
  const signed = call.request.headers.has(SIGNATURE_HEADER);
  if (!signed && key.signature === "optional") return undefined;
  const headers = parseSignatureHeaders(call.request.headers, Math.floor(call.receivedAt / 1000));
  if (!("ok" in headers)) return headers;
  const secrets = await signingSecrets(call, key);
  if (!Array.isArray(secrets)) return secrets;
  const url = new URL(call.request.url);
  const canonical = canonicalRequest({
    method: call.request.method,
    path: url.pathname,
    rawQuery: url.search,
    timestamp: headers.timestamp,
    nonce: headers.nonce,
    bodySha256Hex: await sha256Hex(call.rawBody as Uint8Array<ArrayBuffer>),
  });
  for (const secret of secrets) {
    if (await verifySignature(secret, canonical, headers.signatureHex)) return { nonce: headers.nonce, timestamp: headers.timestamp };
  }
  return fail("invalid_signature", "The request signature does not match.");
}

/** Authenticates an external caller: API key, tenant, allowlists, then the request signature. */
export async function verifyExternalCall(call: ExternalCall): Promise<{ principal: Principal; nonce?: { nonce: string; timestamp: number } } | GatewayFailure> {
  const credential = credentialFrom(call.request);
  if (!("ok" in credential)) return credential;
  const auth = await authenticateApiKey(call.env, credential.value, call.clientIp, call.receivedAt);
  if (!("key" in auth)) return auth;
  const { key, tenant } = auth;
  const principal: Principal = {
    kind: "api_key",
    tenantId: tenant.id,
    keyId: key.id,
    scopes: key.scopes,
    rateLimits: key.rate_limits,
    tenantRateLimits: tenant.rate_limits,
    ipRateLimits: tenant.ip_rate_limits,
    quotas: [...quotaRules("tenant", tenant.quotas, tenant.time_zone), ...quotaRules("key", key.quotas, tenant.time_zone)],
    failPolicy: tenant.fail_policy,
  };
  const signature = await checkSignature(call, key);
  if (signature && "kind" in signature) {
    if (signature.kind === "invalid_signature" || signature.kind === "stale_timestamp") {
      // Counts toward the key's automatic freeze; off the response path.
      const guard = guardFor(call.env, tenant.id);
      call.exec.waitUntil(guard.recordSignatureFailure(key.id, {}).then(() => undefined, () => undefined));
    }
    return signature;
  }
  return { principal, nonce: signature };
}

export const verifySignatureStep: GatewayStep = {
  name: "verify_signature",
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const verified = await verifyExternalCall(ctx);
    if ("kind" in verified) return verified;
    ctx.principal = verified.principal;
    ctx.nonce = verified.nonce;
  },
};
