// Authenticates an external caller (a tenant's API key): key format, record, tenant, allowlists, then the
// request's HMAC signature (timestamp window, nonce format, signature over the canonical request). The
// nonce itself is checked for replay by the TenantGuard: in admit() on the pipeline, in checkAccess()
// on the read-only routes (middleware.ts).
import type { Env } from "../env";
import { callerCache } from "../cache/caller-policy";
import type { Principal } from "../context";
import { quotaRules, type ApiKeyRecord, type TenantRecord } from "../config/schemas";
import { err, fail, ok, type GatewayFailure, type Result } from "../errors";
import { guardFor } from "../objects";
import { openSecret } from "../security/secret-box";
import { canonicalRequest, parseSignatureHeaders, SIGNATURE_HEADER, verifySignature } from "../security/signature";
import { sha256Hex } from "../security/encoding";
import { authenticateApiKey } from "./authenticate-key";
import { credentialFrom } from "./credentials";
import { crossOrigin } from "../cors/origin-patterns";

/** What a signed-or-bearer external request is checked with; the pipeline's context satisfies it. */
export interface ExternalCall {
  request: Request;
  rawBody: Uint8Array;
  /** The body's SHA-256 when it was hashed while it streamed (a file upload); rawBody is then empty and unused. */
  bodySha256Hex?: string;
  env: Env;
  exec: ExecutionContext;
  clientIp: string | null;
  receivedAt: number;
}

export interface SignedNonce {
  nonce: string;
  timestamp: number;
}

export interface AuthenticatedCaller {
  principal: Principal;
  /** Present when the request was signed: the TenantGuard checks it for replay. */
  nonce?: SignedNonce;
}

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
async function signingSecrets(call: Pick<ExternalCall, "env" | "receivedAt">, key: ApiKeyRecord): Promise<Result<string[]>> {
  const master = call.env.MASTER_KEY;
  if (!master) return err(fail("auth_unavailable", "Request signing is not configured on this gateway."));
  const sealed = [key.signing_secret_sealed];
  if (key.previous_signing_secret_sealed && key.previous_secret_expires_at && Date.parse(key.previous_secret_expires_at) > call.receivedAt) {
    sealed.push(key.previous_signing_secret_sealed);
  }
  const secrets: string[] = [];
  for (const s of sealed) {
    if (!s) continue;
    const opened = await openCached(master, s, key.id);
    if (opened === null) return err(fail("auth_unavailable", "The key's signing secret cannot be read."));
    secrets.push(opened);
  }
  return ok(secrets);
}

/** The request's signature, when it is signed or must be: the nonce to check for replay, undefined for an unsigned request its key allows. */
async function checkSignature(call: ExternalCall, key: ApiKeyRecord): Promise<Result<SignedNonce | undefined>> {
  const signed = call.request.headers.has(SIGNATURE_HEADER);
  if (!signed && key.signature === "optional") return ok(undefined);
  const headers = parseSignatureHeaders(call.request.headers, Math.floor(call.receivedAt / 1000));
  if (!headers.ok) return headers;
  const secrets = await signingSecrets(call, key);
  if (!secrets.ok) return secrets;
  const url = new URL(call.request.url);
  const canonical = canonicalRequest({
    method: call.request.method,
    path: url.pathname,
    rawQuery: url.search,
    timestamp: headers.value.timestamp,
    nonce: headers.value.nonce,
    bodySha256Hex: call.bodySha256Hex ?? (await sha256Hex(call.rawBody as Uint8Array<ArrayBuffer>)),
  });
  for (const secret of secrets.value) {
    if (await verifySignature(secret, canonical, headers.value.signatureHex)) return ok({ nonce: headers.value.nonce, timestamp: headers.value.timestamp });
  }
  return err(fail("invalid_signature", "The request signature does not match."));
}

/** A bad signature or timestamp counts toward the key's automatic freeze; off the response path. */
function countSignatureFailure(call: ExternalCall, tenantId: string, keyId: string, failure: GatewayFailure): void {
  if (failure.kind !== "invalid_signature" && failure.kind !== "stale_timestamp") return;
  call.exec.waitUntil(guardFor(call.env, tenantId).recordSignatureFailure(keyId, {}).then(() => undefined, () => undefined));
}

/** Authenticates an external caller: API key, tenant, allowlists, then the request signature. */
export async function authenticateExternal(call: ExternalCall): Promise<Result<AuthenticatedCaller>> {
  const keyed = await authenticateKeyOf(call);
  if (!keyed.ok) return keyed;
  return signatureOf(call, keyed.value.key, keyed.value.principal);
}

/** A caller whose key is checked and whose body is still to stream: `verify` checks the signature over the body's hash once it is known. */
export interface StreamedCaller {
  principal: Principal;
  verify(bodySha256Hex: string): Promise<Result<AuthenticatedCaller>>;
}

/**
 * For a body too large to hold (a file upload): the key, allowlists and the signing headers' shape and
 * clock window now, before a byte is read; the signature itself once the streamed body's hash is known.
 */
export async function authenticateExternalStreamed(call: Omit<ExternalCall, "rawBody" | "bodySha256Hex">): Promise<Result<StreamedCaller>> {
  const keyed = await authenticateKeyOf({ ...call, rawBody: new Uint8Array(0) });
  if (!keyed.ok) return keyed;
  const { key, principal } = keyed.value;
  if (call.request.headers.has(SIGNATURE_HEADER) || key.signature !== "optional") {
    const headers = parseSignatureHeaders(call.request.headers, Math.floor(call.receivedAt / 1000));
    if (!headers.ok) {
      countSignatureFailure({ ...call, rawBody: new Uint8Array(0) }, principal.tenantId, key.id, headers.failure);
      return headers;
    }
  }
  return ok({ principal, verify: (bodySha256Hex) => signatureOf({ ...call, rawBody: new Uint8Array(0), bodySha256Hex }, key, principal) });
}

async function signatureOf(call: ExternalCall, key: ApiKeyRecord, principal: Principal): Promise<Result<AuthenticatedCaller>> {
  const signature = await checkSignature(call, key);
  if (!signature.ok) {
    countSignatureFailure(call, principal.tenantId, key.id, signature.failure);
    return signature;
  }
  return ok({ principal, nonce: signature.value });
}

async function authenticateKeyOf(call: ExternalCall): Promise<Result<{ key: ApiKeyRecord; principal: Principal }>> {
  const credential = credentialFrom(call.request);
  if (!credential.ok) return credential;
  const browserOrigin = crossOrigin(call.request);
  const auth = await authenticateApiKey(call.env, credential.value, call.clientIp, call.receivedAt, browserOrigin);
  if (!auth.ok) return auth;
  const { key, tenant } = auth.value;
  const principal = keyPrincipal(key, tenant);
  return ok({ key, principal });
}

/** The principal a tenant's key acts as: its own and its tenant's limits, quotas, caps and cache setting. */
export function keyPrincipal(key: ApiKeyRecord, tenant: TenantRecord): Principal {
  return {
    kind: "api_key",
    tenantId: tenant.id,
    keyId: key.id,
    scopes: key.scopes,
    rateLimits: key.rate_limits,
    tenantRateLimits: tenant.rate_limits,
    ipRateLimits: tenant.ip_rate_limits,
    ipv6RateLimitPrefix: tenant.ipv6_rate_limit_prefix,
    quotas: [...quotaRules("tenant", tenant.quotas, tenant.time_zone), ...quotaRules("key", key.quotas, tenant.time_zone)],
    failPolicy: tenant.fail_policy,
    concurrency: {
      tenant: tenant.max_concurrent_requests,
      key: key.max_concurrent_requests,
      policy: tenant.concurrency_policy,
      weight: tenant.weight,
    },
    cache: callerCache(key.cache, tenant.cache),
  };
}
