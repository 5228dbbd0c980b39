// AES-256-GCM sealing of signing secrets under the Worker's MASTER_KEY, so KV/DB dumps hold no usable secret.
import { fromBase64, toBase64Url, utf8 } from "./encoding";

/**
 * Sealed format: `v1.<base64url(12-byte IV)>.<base64url(ciphertext || 16-byte GCM tag)>`, no padding.
 *
 * Master key: `MASTER_KEY` should be base64 (standard or url-safe) of exactly 32 random bytes; those
 * bytes are the AES-256 key. Any other string (wrong length, not base64) is still accepted but
 * stretched: key = HKDF-SHA256(ikm = UTF-8 bytes of the string as given, salt = empty,
 * info = "gateway secret-box v1", 32 bytes). HKDF does not add entropy, so a short passphrase stays
 * weak: production should use `openssl rand -base64 32`. An empty master key is a deploy bug and throws.
 *
 * `context` (optional) is bound as GCM additional data, e.g. the key id, so a sealed secret copied
 * onto another record no longer opens.
 */
const VERSION = "v1";
const IV_BYTES = 12;
const HKDF_INFO = "gateway secret-box v1";
/** Imports are cached per isolate; a handful of master keys at most (rotation), so a small cap is plenty. */
const CACHE_LIMIT = 8;
const keyCache = new Map<string, Promise<CryptoKey>>();

async function deriveKey(masterKey: string): Promise<CryptoKey> {
  const raw = fromBase64(masterKey);
  if (raw && raw.length === 32) {
    return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  }
  const ikm = await crypto.subtle.importKey("raw", utf8(masterKey), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: utf8(HKDF_INFO) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function aesKey(untrimmed: string): Promise<CryptoKey> {
  const masterKey = untrimmed.trim();
  if (masterKey.length === 0) throw new Error("MASTER_KEY is empty");
  let key = keyCache.get(masterKey);
  if (!key) {
    if (keyCache.size >= CACHE_LIMIT) keyCache.clear();
    key = deriveKey(masterKey);
    // A failed import must not stay cached.
    key.catch(() => keyCache.delete(masterKey));
    keyCache.set(masterKey, key);
  }
  return key;
}

function params(iv: Uint8Array<ArrayBuffer>, context: string | undefined) {
  return context === undefined ? { name: "AES-GCM", iv } : { name: "AES-GCM", iv, additionalData: utf8(context) };
}

export async function sealSecret(masterKey: string, plaintext: string, context?: string): Promise<string> {
  const key = await aesKey(masterKey);
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = new Uint8Array(await crypto.subtle.encrypt(params(iv, context), key, utf8(plaintext)));
  return `${VERSION}.${toBase64Url(iv)}.${toBase64Url(ct)}`;
}

/** The plaintext, or null when the value is malformed, tampered with, sealed under another key or another context. */
export async function openSecret(masterKey: string, sealed: string, context?: string): Promise<string | null> {
  const parts = sealed.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) return null;
  // base64url only: standard base64 or padding would give a second spelling of the same value.
  if (!/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) return null;
  const iv = fromBase64(parts[1]!);
  const ct = fromBase64(parts[2]!);
  if (!iv || iv.length !== IV_BYTES || !ct || ct.length < 16) return null;
  // Unused low bits in the last character would give a second spelling of the same bytes.
  if (toBase64Url(iv) !== parts[1] || toBase64Url(ct) !== parts[2]) return null;
  const key = await aesKey(masterKey);
  try {
    const plain = await crypto.subtle.decrypt(params(iv, context), key, ct);
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain);
  } catch {
    return null;
  }
}
