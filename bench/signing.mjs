// Request signing for the load generator (node:crypto HMAC, the body hash computed once): fresh
// timestamp and nonce per request, as docs/api/authentication.md requires, at a few µs per request.
import { createHash, createHmac, randomBytes } from "node:crypto";

const NONCE_BYTES = 18; // 24 url-safe characters, like the gateway's own client helper
const POOL_NONCES = 4096;

/** Random nonces drawn from a pooled buffer: one randomBytes call per 4096 requests. */
function noncePool() {
  let pool = randomBytes(NONCE_BYTES * POOL_NONCES);
  let next = 0;
  return () => {
    if (next === POOL_NONCES) {
      pool = randomBytes(NONCE_BYTES * POOL_NONCES);
      next = 0;
    }
    const start = next++ * NONCE_BYTES;
    return pool.subarray(start, start + NONCE_BYTES).toString("base64url");
  };
}

/**
 * The canonical string: v1, METHOD, path, canonical query, timestamp, nonce, body SHA-256 (hex),
 * joined by "\n". `canonicalQuery` must already be canonical (the benchmark sends no query).
 */
export function canonicalString({ method, path, canonicalQuery = "", timestamp, nonce, bodySha256Hex }) {
  return `v1\n${method.toUpperCase()}\n${path}\n${canonicalQuery}\n${timestamp}\n${nonce}\n${bodySha256Hex}`;
}

export function sha256Hex(body) {
  return createHash("sha256").update(body).digest("hex");
}

export function hmacHex(secret, canonical) {
  return createHmac("sha256", secret).update(canonical).digest("hex");
}

/**
 * A signer for one fixed request (method, path, body): `headers()` returns the four headers for a
 * new request. `now` (unix seconds) and `nonce` can be fixed for tests.
 */
export function createSigner({ key, secret, method = "POST", path, body, now, nonce }) {
  const bodySha256Hex = sha256Hex(body ?? "");
  const nextNonce = nonce ? () => nonce : noncePool();
  return {
    headers() {
      const timestamp = now ?? Math.floor(Date.now() / 1000);
      const n = nextNonce();
      const signature = hmacHex(secret, canonicalString({ method, path, timestamp, nonce: n, bodySha256Hex }));
      return {
        authorization: `Bearer ${key}`,
        "x-gateway-timestamp": String(timestamp),
        "x-gateway-nonce": n,
        "x-gateway-signature": `v1=${signature}`,
      };
    },
  };
}

/** CPU microseconds one signature costs this process (measured, so the report can subtract it). */
export function signingCostMicros(signer, iterations = 20_000) {
  for (let i = 0; i < 1_000; i++) signer.headers();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) signer.headers();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}
