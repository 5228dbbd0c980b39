// The request-signing protocol (HMAC-SHA256 over a canonical request); portable: used by the Worker and the client helper.
// Type-only import: the client helper bundles this file, so it must not pull in server code at runtime.
import type { GatewayFailure, Result } from "../errors";
import { constantTimeEqual, fromHex, sha256Hex, toBase64Url, toHex, utf8 } from "./encoding";

/*
 * Canonical string (lines joined by "\n", no trailing newline):
 *   v1
 *   <METHOD, upper-case>
 *   <path exactly as sent, percent-encoding kept, e.g. /v1/chat/completions>
 *   <canonical query, see canonicalQuery>
 *   <timestamp, unix seconds in decimal, as sent>
 *   <nonce, as sent>
 *   <lowercase hex SHA-256 of the raw body bytes (of the empty string when there is no body)>
 * Signature: lowercase hex HMAC-SHA256(key = UTF-8 bytes of the whole signing secret incl. "gss_",
 * message = UTF-8 bytes of the canonical string), sent as `X-Gateway-Signature: v1=<hex>`.
 * docs/api/authentication.md is the user-facing spelling of the same rules.
 */

export const TIMESTAMP_HEADER = "X-Gateway-Timestamp";
export const NONCE_HEADER = "X-Gateway-Nonce";
export const SIGNATURE_HEADER = "X-Gateway-Signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

const SIGNATURE_FORMAT = /^v1=([0-9a-f]{64})$/;
const NONCE_FORMAT = /^[A-Za-z0-9_-]{16,64}$/;
/** Decimal without sign or leading zeros, so the number and the signed text cannot disagree. */
const TIMESTAMP_FORMAT = /^(0|[1-9][0-9]{0,11})$/;

type SignatureFailureKind = "missing_signature" | "invalid_signature" | "stale_timestamp";

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const err = <T>(failure: GatewayFailure): Result<T> => ({ ok: false, failure });

function fail(kind: SignatureFailureKind, message: string, extra: { param: string }): GatewayFailure {
  return { kind, message, ...extra };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function decodeComponent(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    // Not valid percent-encoding: use the text as-is (a stray "%" is then encoded as %25).
    return raw;
  }
}

/** RFC 3986 unreserved characters stay literal; everything else is %XX of its UTF-8 bytes, upper-case hex. */
export function rfc3986Encode(text: string): string {
  return encodeURIComponent(text.replace(LONE_SURROGATE, "\uFFFD")).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The raw query (without "?") as sorted `name=value` pairs joined by "&". Pairs split on "&", name and
 * value on the first "="; empty pieces are dropped; a pair without "=" has an empty value. Each part is
 * percent-decoded with decodeURIComponent, so "+" stays a literal plus (not a space), then re-encoded
 * with rfc3986Encode. Sorted by encoded name, then encoded value, in byte order; duplicates are kept.
 * So `b=2&a=1` and `a=1&b=2` sign the same, and `%7E` and `~` are the same character.
 */
export function canonicalQuery(rawQuery: string): string {
  const query = rawQuery.startsWith("?") ? rawQuery.slice(1) : rawQuery;
  const pairs: [string, string][] = [];
  for (const piece of query.split("&")) {
    if (piece === "") continue;
    const eq = piece.indexOf("=");
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? "" : piece.slice(eq + 1);
    pairs.push([rfc3986Encode(decodeComponent(name)), rfc3986Encode(decodeComponent(value))]);
  }
  // Encoded parts are ASCII, so comparing UTF-16 code units is byte order.
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  pairs.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

export interface CanonicalParts {
  method: string;
  /** The path as sent, e.g. `new URL(url).pathname`. */
  path: string;
  /** The raw query string, with or without the leading "?". */
  rawQuery: string;
  timestamp: number | string;
  nonce: string;
  bodySha256Hex: string;
}

export function canonicalRequest(parts: CanonicalParts): string {
  return [
    "v1",
    parts.method.toUpperCase(),
    parts.path,
    canonicalQuery(parts.rawQuery),
    String(parts.timestamp),
    parts.nonce,
    parts.bodySha256Hex,
  ].join("\n");
}

export type SignableBody = string | Uint8Array | ArrayBuffer | null | undefined;

export function bodyBytes(body: SignableBody): Uint8Array<ArrayBuffer> {
  if (body === null || body === undefined) return new Uint8Array(0);
  if (typeof body === "string") return utf8(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return new Uint8Array(body); // copy: detaches us from the caller's buffer and any SharedArrayBuffer
}

export interface RequestToSign {
  method: string;
  url: string | URL;
  timestamp: number | string;
  nonce: string;
  body?: SignableBody;
}

/** The canonical string of a request, from its absolute URL and its exact body bytes. */
export async function canonicalRequestFor(req: RequestToSign): Promise<string> {
  const url = typeof req.url === "string" ? new URL(req.url) : req.url;
  return canonicalRequest({
    method: req.method,
    path: url.pathname,
    rawQuery: url.search,
    timestamp: req.timestamp,
    nonce: req.nonce,
    bodySha256Hex: await sha256Hex(bodyBytes(req.body)),
  });
}

async function hmac(secret: string, canonical: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(canonical)));
}

/** Lowercase hex HMAC-SHA256 (64 chars), without the `v1=` prefix. */
export async function computeSignature(secret: string, canonical: string): Promise<string> {
  return toHex(await hmac(secret, canonical));
}

/**
 * Recomputes the HMAC and compares the 32 bytes with a constant-time loop (our own, so the guarantee
 * does not depend on how a runtime implements subtle.verify). Anything but 64 lowercase hex is false.
 */
export async function verifySignature(secret: string, canonical: string, signatureHex: string): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(signatureHex)) return false;
  const given = fromHex(signatureHex);
  if (!given) return false;
  return constantTimeEqual(given, await hmac(secret, canonical));
}

export interface ParsedSignatureHeaders {
  timestamp: number;
  nonce: string;
  signatureHex: string;
}

/**
 * Checks the shape of the signing headers and the clock window, before any key lookup or crypto.
 * `nowSeconds` is unix time in seconds. The window is symmetric: |now - timestamp| <= tolerance.
 * Every failure is a 401 kind; nothing here can throw on client input.
 */
export function parseSignatureHeaders(
  headers: Headers,
  nowSeconds: number,
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): Result<ParsedSignatureHeaders> {
  const signature = headers.get(SIGNATURE_HEADER);
  if (signature === null || signature.trim() === "") {
    return err(fail("missing_signature", `The request is not signed: send ${SIGNATURE_HEADER}.`, { param: SIGNATURE_HEADER }));
  }
  // A duplicated header arrives joined with ", " and fails here too.
  const match = SIGNATURE_FORMAT.exec(signature);
  if (!match) {
    return err(fail("invalid_signature", `${SIGNATURE_HEADER} must be "v1=" followed by 64 lower-case hex digits.`, {
      param: SIGNATURE_HEADER,
    }));
  }
  const stamp = headers.get(TIMESTAMP_HEADER);
  if (stamp === null || !TIMESTAMP_FORMAT.test(stamp)) {
    return err(fail("stale_timestamp", `${TIMESTAMP_HEADER} must be the current unix time in whole seconds.`, {
      param: TIMESTAMP_HEADER,
    }));
  }
  const timestamp = Number(stamp);
  if (!(Math.abs(nowSeconds - timestamp) <= toleranceSeconds)) {
    return err(fail("stale_timestamp", `${TIMESTAMP_HEADER} is more than ${toleranceSeconds} seconds away from the gateway's clock.`, {
      param: TIMESTAMP_HEADER,
    }));
  }
  const nonce = headers.get(NONCE_HEADER);
  if (nonce === null || !NONCE_FORMAT.test(nonce)) {
    return err(fail("invalid_signature", `${NONCE_HEADER} must be 16 to 64 characters of A-Z, a-z, 0-9, "_" and "-".`, {
      param: NONCE_HEADER,
    }));
  }
  return ok({ timestamp, nonce, signatureHex: match[1]! });
}

/** 24 url-safe characters (144 random bits). */
export function randomNonce(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}

export interface SignRequestInput {
  key: string;
  secret: string;
  method: string;
  /** Absolute URL; the path and query are signed as the WHATWG URL parser spells them. */
  url: string | URL;
  body?: SignableBody;
  /** Unix seconds; defaults to the current time. */
  now?: number;
  nonce?: string;
}

/** The four headers to add to a request; the body must then be sent byte for byte as signed. */
export async function signRequest(input: SignRequestInput): Promise<Record<string, string>> {
  const timestamp = Math.floor(input.now ?? Date.now() / 1000);
  const nonce = input.nonce ?? randomNonce();
  const canonical = await canonicalRequestFor({ method: input.method, url: input.url, timestamp, nonce, body: input.body });
  return {
    Authorization: `Bearer ${input.key}`,
    [TIMESTAMP_HEADER]: String(timestamp),
    [NONCE_HEADER]: nonce,
    [SIGNATURE_HEADER]: `v1=${await computeSignature(input.secret, canonical)}`,
  };
}
