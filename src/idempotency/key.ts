// The Idempotency-Key header of an external request: checked before the pipeline runs, then carried with
// the request's fingerprint (SHA-256 of method, path and raw body) on the request context (ctx.idempotency)
// and in the one admit() call.
import type { GatewayContext } from "../context";
import { fail, type GatewayFailure } from "../errors";

export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** 1-255 printable ASCII characters (space to tilde): no control characters, nothing outside ASCII. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/**
 * Validates the header and starts hashing the request (so the hash overlaps authentication). Only the
 * external channel honours the header; the internal channel ignores it. Returns a 400 for a malformed key.
 */
export function beginIdempotency(ctx: GatewayContext): GatewayFailure | undefined {
  if (ctx.channel !== "external") return undefined;
  const key = ctx.request.headers.get(IDEMPOTENCY_HEADER);
  if (key === null) return undefined;
  if (!KEY_PATTERN.test(key)) {
    return fail("invalid_request", "The Idempotency-Key header must be 1 to 255 printable ASCII characters (no control characters).", { param: IDEMPOTENCY_HEADER });
  }
  const url = new URL(ctx.request.url);
  ctx.idempotency = { claim: fingerprint(ctx.request.method, url.pathname, ctx.rawBody).then((hash) => ({ key, fingerprint: hash })) };
  return undefined;
}

/** Hex SHA-256 over "METHOD\nPATH\n" and the body bytes exactly as received (a URL path holds no raw newline). */
export async function fingerprint(method: string, path: string, body: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(`${method.toUpperCase()}\n${path}\n`);
  const all = new Uint8Array(head.byteLength + body.byteLength);
  all.set(head, 0);
  all.set(body, head.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
