// Step verify_signature (external channel): authenticates the tenant's API key, then checks the
// request's HMAC signature (timestamp window, nonce format, signature over the canonical request).
// The nonce itself is checked for replay by the TenantGuard in the same admit() call as the limits.
import type { GatewayContext } from "../context";
import type { ApiKeyRecord } from "../config/schemas";
import { authenticateApiKey } from "../auth/authenticate-key";
import { credentialFrom } from "../auth/credentials";
import { fail, type GatewayFailure } from "../errors";
import type { GatewayStep } from "../pipeline/workflows";
import { openSecret } from "../security/secret-box";
import { canonicalRequest, parseSignatureHeaders, SIGNATURE_HEADER, verifySignature } from "../security/signature";
import { sha256Hex } from "../security/encoding";

// Opened signing secrets by sealed value: AES-GCM runs once per secret per isolate, not per request.
const openedSecrets = new Map<string, Promise<string | null>>();

function openCached(masterKey: string, sealed: string, keyId: string): Promise<string | null> {
  let opened = openedSecrets.get(sealed);
  if (!opened) {
    if (openedSecrets.size > 10_000) openedSecrets.clear();
    opened = openSecret(masterKey, sealed, keyId);
    openedSecrets.set(sealed, opened);
  }
  return opened;
}

/** The secrets a signature may be made with: the current one, and the previous one during a rotation's grace period. */
async function signingSecrets(ctx: GatewayContext, key: ApiKeyRecord): Promise<string[] | GatewayFailure> {
  const master = ctx.env.MASTER_KEY;
  if (!master) return fail("auth_unavailable", "Request signing is not configured on this gateway.");
  const sealed = [key.signing_secret_sealed];
  if (key.previous_signing_secret_sealed && key.previous_secret_expires_at && Date.parse(key.previous_secret_expires_at) > ctx.receivedAt) {
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

async function checkSignature(ctx: GatewayContext, key: ApiKeyRecord): Promise<GatewayFailure | { nonce: string; timestamp: number } | undefined> {
  const signed = ctx.request.headers.has(SIGNATURE_HEADER);
  if (!signed && key.signature === "optional") return undefined;
  const headers = parseSignatureHeaders(ctx.request.headers, Math.floor(ctx.receivedAt / 1000));
  if (!("ok" in headers)) return headers;
  const secrets = await signingSecrets(ctx, key);
  if (!Array.isArray(secrets)) return secrets;
  const url = new URL(ctx.request.url);
  const canonical = canonicalRequest({
    method: ctx.request.method,
    path: url.pathname,
    rawQuery: url.search,
    timestamp: headers.timestamp,
    nonce: headers.nonce,
    bodySha256Hex: await sha256Hex(ctx.rawBody as Uint8Array<ArrayBuffer>),
  });
  for (const secret of secrets) {
    if (await verifySignature(secret, canonical, headers.signatureHex)) return { nonce: headers.nonce, timestamp: headers.timestamp };
  }
  return fail("invalid_signature", "The request signature does not match.");
}

export const verifySignatureStep: GatewayStep = {
  name: "verify_signature",
  after: [],
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const credential = credentialFrom(ctx.request, new URL(ctx.request.url));
    if (!("ok" in credential)) return credential;
    const auth = await authenticateApiKey(ctx.env, credential.value, ctx.clientIp, ctx.receivedAt);
    if (!("key" in auth)) return auth;
    const { key, tenant } = auth;
    ctx.principal = {
      kind: "api_key",
      tenantId: tenant.id,
      keyId: key.id,
      scopes: key.scopes,
      rateLimits: key.rate_limits,
      tenantRateLimits: tenant.rate_limits,
    };
    const signature = await checkSignature(ctx, key);
    if (signature && "kind" in signature) {
      if (signature.kind === "invalid_signature" || signature.kind === "stale_timestamp") {
        // Counts toward the key's automatic freeze; off the response path.
        const guard = ctx.env.TENANT_GUARD.get(ctx.env.TENANT_GUARD.idFromName(tenant.id));
        ctx.exec.waitUntil(guard.recordSignatureFailure(key.id, {}).then(() => undefined, () => undefined));
      }
      return signature;
    }
    if (signature) ctx.nonce = signature;
  },
};
