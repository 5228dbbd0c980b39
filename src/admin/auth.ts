// Admin API authentication: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.
import type { MiddlewareHandler } from "hono";
import { errorResponse, fail } from "../errors";
import { constantTimeEqual, utf8 } from "../security/encoding";
import type { AdminEnv } from "./types";

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

export function adminAuth(): MiddlewareHandler<AdminEnv> {
  return async function adminAuth(c, next) {
    c.set("adminStartedAt", Date.now());
    const traceId = c.get("traceId");
    const expected = c.env.ADMIN_TOKEN;
    // No token configured means no admin API, never an open one.
    if (!expected) return errorResponse(fail("auth_unavailable", "The admin API is disabled: ADMIN_TOKEN is not set."), traceId);
    const match = /^Bearer ([\x21-\x7e]+)$/i.exec((c.req.header("authorization") ?? "").trim());
    if (!match || !(await adminTokenMatches(expected, match[1]!))) {
      return errorResponse(fail("admin_unauthorized", "A valid admin token is required: send 'Authorization: Bearer <ADMIN_TOKEN>'."), traceId, {
        "www-authenticate": 'Bearer realm="admin"',
      });
    }
    await next();
  };
}
