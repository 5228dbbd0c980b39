// Preflights on the external channel. A preflight carries no credential, so it cannot be decided by
// the key that will be used: it is answered for an origin that some key allows (the origin index),
// identically whichever keys or tenants those are, and refused for any other. Passing it only lets the
// browser send the request; the request itself is then checked against its own key's allowed_origins.
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { errorResponse, fail } from "../errors";
import { preflightHeaders } from "./cors-headers";
import { originIndexed } from "./origin-index";

export function browserPreflight(): MiddlewareHandler<AppEnv> {
  return async function browserPreflight(c, next) {
    const origin = c.req.header("origin");
    const method = c.req.header("access-control-request-method");
    // Not a preflight: an OPTIONS without them is an ordinary request (404, no route).
    if (c.req.method !== "OPTIONS" || origin === undefined || method === undefined) return next();
    const indexed = await originIndexed(c.env, origin);
    if (!indexed.ok) return errorResponse(indexed.failure, c.get("traceId"));
    const headers = indexed.value ? preflightHeaders(origin, method, c.req.header("access-control-request-headers") ?? null) : undefined;
    // One refusal for every reason, without CORS headers: the browser will not send the request.
    if (!headers) return errorResponse(fail("origin_not_allowed", "This browser request is not allowed: its origin may not call the gateway, or it asks for a method or header the gateway does not take."), c.get("traceId"));
    return new Response(null, { status: 204, headers });
  };
}
