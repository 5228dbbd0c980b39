// The CORS headers of the external channel: what a preflight allows (the methods and request headers
// the official SDKs send) and what an answer to an allowed browser origin carries (the origin itself,
// and the rate-limit and request-id headers exposed to the page's script).

/** Request headers a browser may send, by exact name. */
const ALLOWED_HEADER_NAMES = new Set([
  "authorization",
  "content-type",
  "accept",
  "x-api-key",
  "anthropic-version",
  "anthropic-beta",
  "anthropic-dangerous-direct-browser-access",
  "idempotency-key",
  "traceparent",
  "x-request-id",
]);
/** Families allowed by prefix: the signing headers (`x-gateway-timestamp` ...) and the SDKs' `x-stainless-*` telemetry. */
const ALLOWED_HEADER_PREFIXES = ["x-gateway-", "x-stainless-"];

const ALLOWED_METHODS = ["GET", "POST", "PATCH", "DELETE"];

/** How long a browser may cache a preflight (Chromium caps it at 2 hours). The key is checked on every request regardless. */
export const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/** Response headers a page's script may read. */
const EXPOSED_HEADERS = [
  "x-request-id",
  "request-id",
  "x-gateway-request-id",
  "x-trace-id",
  "retry-after",
  "idempotent-replayed",
  "x-gateway-token-count",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
].join(", ");

function headerAllowed(name: string): boolean {
  return ALLOWED_HEADER_NAMES.has(name) || ALLOWED_HEADER_PREFIXES.some((p) => name.startsWith(p));
}

/**
 * The preflight answer's headers, or undefined when the browser asks for a method or header the
 * gateway does not take (the browser then refuses the call before sending it).
 */
export function preflightHeaders(origin: string, method: string, requestedHeaders: string | null): Record<string, string> | undefined {
  if (!ALLOWED_METHODS.includes(method)) return undefined;
  const names = (requestedHeaders ?? "").split(",").map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  if (!names.every(headerAllowed)) return undefined;
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": ALLOWED_METHODS.join(", "),
    ...(names.length > 0 ? { "access-control-allow-headers": names.join(", ") } : {}),
    "access-control-max-age": String(PREFLIGHT_MAX_AGE_SECONDS),
    vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
  };
}

/**
 * The headers that let a page on an allowed origin read an answer. Only for an origin the request's key
 * allows: authentication refuses any other (src/auth/authenticate-key.ts), so an authenticated request
 * that came from a browser origin came from an allowed one. No credentials mode: keys travel in
 * headers, never cookies.
 */
export function corsAnswerHeaders(origin: string): Record<string, string> {
  return { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS, vary: "Origin" };
}
