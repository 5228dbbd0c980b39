// The break-glass admin credential (ADMIN_TOKEN from the environment), compared in constant time.
import { constantTimeEqual, utf8 } from "../security/encoding";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)));
}

/**
 * Both sides are hashed first, so the comparison runs over two 32-byte digests whatever the
 * lengths: neither a prefix nor the token's length leaks through timing.
 */
export async function adminTokenMatches(expected: string, presented: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(expected), digest(presented)]);
  return constantTimeEqual(a, b);
}

/** The token of an `Authorization: Bearer` header, if it is one. */
export function bearerToken(header: string | undefined | null): string | undefined {
  return /^Bearer ([\x21-\x7e]+)$/i.exec((header ?? "").trim())?.[1];
}
