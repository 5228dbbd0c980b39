// API key, service token, signing secret and id formats: generation, offline well-formedness check, hashing at rest.
import { BASE62, randomBase62, sha256Hex } from "./encoding";

/**
 * Key format: `<prefix><30 random base62><6 base62 checksum>`.
 * The checksum is CRC-32 (IEEE) of `<prefix><body>` written in base62, left-padded with "0" to 6 chars
 * (62^6 > 2^32, so it always fits). CRC-32 catches every single-character change, so a typo or a
 * truncated copy is rejected without a database lookup; it is not a secret and adds no entropy.
 * The prefix is inside the checksum, so a service token body cannot pass as an API key.
 */
const BODY_LENGTH = 30;
const CHECKSUM_LENGTH = 6;

export const API_KEY_PREFIX = "gk_";
export const SERVICE_TOKEN_PREFIX = "gst_";
export const SIGNING_SECRET_PREFIX = "gss_";
export const ADMIN_TOKEN_PREFIX = "gat_";
/** 43 base62 chars carry about 256 bits. */
const SIGNING_SECRET_BODY_LENGTH = 43;

export const API_KEY_LENGTH = API_KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
export const SERVICE_TOKEN_LENGTH = SERVICE_TOKEN_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 over the char codes; callers only pass ASCII, so char codes are the bytes. */
export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base62Fixed(value: number, width: number): string {
  let out = "";
  let v = value;
  while (v > 0) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out.padStart(width, "0");
}

function checksum(prefixAndBody: string): string {
  return base62Fixed(crc32(prefixAndBody), CHECKSUM_LENGTH);
}

function generateToken(prefix: string): string {
  const head = prefix + randomBase62(BODY_LENGTH);
  return head + checksum(head);
}

const BASE62_ONLY = /^[0-9A-Za-z]+$/;

function isWellFormedToken(prefix: string, token: unknown): boolean {
  if (typeof token !== "string") return false;
  if (token.length !== prefix.length + BODY_LENGTH + CHECKSUM_LENGTH) return false;
  if (!token.startsWith(prefix)) return false;
  const rest = token.slice(prefix.length);
  if (!BASE62_ONLY.test(rest)) return false;
  const head = token.slice(0, prefix.length + BODY_LENGTH);
  return checksum(head) === token.slice(prefix.length + BODY_LENGTH);
}

/** A new client API key, e.g. `gk_3fZ…` (39 chars). Show it once; store only hashApiKey(key). */
export function generateApiKey(): string {
  return generateToken(API_KEY_PREFIX);
}

/** Format and checksum only: run before any lookup so garbage never reaches KV or the database. */
export function isWellFormedApiKey(key: unknown): boolean {
  return isWellFormedToken(API_KEY_PREFIX, key);
}

/** A token for service-to-service calls (`gst_…`, 40 chars); same scheme as API keys. */
export function generateServiceToken(): string {
  return generateToken(SERVICE_TOKEN_PREFIX);
}

export function isWellFormedServiceToken(token: unknown): boolean {
  return isWellFormedToken(SERVICE_TOKEN_PREFIX, token);
}

/** A named admin token (`gat_…`, 40 chars); same scheme, stored only as its SHA-256 in the AdminAccess object. */
export function generateAdminToken(): string {
  return generateToken(ADMIN_TOKEN_PREFIX);
}

export function isWellFormedAdminToken(token: unknown): boolean {
  return isWellFormedToken(ADMIN_TOKEN_PREFIX, token);
}

/** A request-signing secret (`gss_` + 43 base62, about 256 bits); stored sealed (secret-box.ts), never hashed. */
export function generateSigningSecret(): string {
  return SIGNING_SECRET_PREFIX + randomBase62(SIGNING_SECRET_BODY_LENGTH);
}

export function isWellFormedSigningSecret(secret: unknown): boolean {
  return (
    typeof secret === "string" &&
    secret.length === SIGNING_SECRET_PREFIX.length + SIGNING_SECRET_BODY_LENGTH &&
    secret.startsWith(SIGNING_SECRET_PREFIX) &&
    BASE62_ONLY.test(secret.slice(SIGNING_SECRET_PREFIX.length))
  );
}

/**
 * Lowercase hex SHA-256 of the whole key (prefix included). A plain hash is enough here: keys carry
 * about 178 random bits, so there is nothing to brute-force, and lookups need a deterministic value.
 */
export function hashApiKey(key: string): Promise<string> {
  return sha256Hex(key);
}

// Hashes of credentials this isolate has recently authenticated: the same few keys arrive request
// after request. Only well-formed credentials reach this (checked first), the map is bounded and
// cleared when full, and lives in isolate memory only (never logged or sent anywhere). Revocation is
// unaffected: the record behind the hash is still looked up on every request.
const recentHashes = new Map<string, string>();
const MAX_RECENT_HASHES = 1_000;

/** hashApiKey for authentication on the request path, remembered per isolate. */
export async function credentialHash(key: string): Promise<string> {
  const known = recentHashes.get(key);
  if (known !== undefined) return known;
  const hash = await hashApiKey(key);
  if (recentHashes.size >= MAX_RECENT_HASHES) recentHashes.clear();
  recentHashes.set(key, hash);
  return hash;
}

/** An opaque id such as `ten_…` or `key_…`: `randomId("ten")` (or `randomId("ten_")`) + 20 base62 (about 119 bits). */
export function randomId(prefix: string): string {
  const head = prefix.endsWith("_") ? prefix : `${prefix}_`;
  return head + randomBase62(20);
}

/** A short, non-secret label for logs and dashboards: the prefix and the first 4 body chars (`gk_3fZq…`). */
export function keyHint(key: string): string {
  const prefixEnd = key.indexOf("_") + 1;
  return `${key.slice(0, prefixEnd + 4)}…`;
}
