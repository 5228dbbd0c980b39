// Ids on every response. The trace id comes from the client's traceparent or x-request-id when it sent
// one; the request id is always minted here, and every response carries it twice: x-gateway-request-id
// (the ledger's and audit's request_id) and x-request-id, which the official OpenAI clients read as the
// response's `_request_id` (Anthropic's read `request-id`, set on the Anthropic routes).
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../app-env";
import { newTraceId, traceIdFor } from "../pipeline/trace";

export function responseIds(): MiddlewareHandler<AppEnv> {
  return async function responseIds(c, next) {
    c.set("traceId", traceIdFor(c.req.raw.headers));
    const requestId = newTraceId();
    c.set("requestId", requestId);
    await next();
    setResponseHeaders(c, { "x-gateway-request-id": requestId, "x-request-id": requestId });
    if (!c.res.headers.has("x-trace-id")) setResponseHeaders(c, { "x-trace-id": c.get("traceId") });
  };
}

/** Sets headers on the response a handler returned (copied first when its headers are immutable, as a fetch() result's are). */
export function setResponseHeaders(c: Context<AppEnv>, headers: Record<string, string>): void {
  try {
    for (const name in headers) c.res.headers.set(name, headers[name]!);
  } catch {
    // Hono's setter copies the old response into a new one, whose headers are mutable.
    c.res = new Response(c.res.body, c.res);
    for (const name in headers) c.res.headers.set(name, headers[name]!);
  }
}
