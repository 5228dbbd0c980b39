// One error model: every expected failure is a GatewayFailure value with a snake_case kind,
// mapped to an HTTP status and one OpenAI-shaped body by the exhaustive table below (and, on the
// Anthropic routes, to Anthropic's status and body through the mapping after it).

export type ErrorSource = "client" | "gateway" | "upstream";

type ErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "api_error"
  | "upstream_error"
  | "timeout_error";

interface KindInfo {
  status: number;
  type: ErrorType;
  source: ErrorSource;
}

const c = (status: number, type: ErrorType): KindInfo => ({ status, type, source: "client" });
const g = (status: number, type: ErrorType): KindInfo => ({ status, type, source: "gateway" });
const u = (status: number, type: ErrorType): KindInfo => ({ status, type, source: "upstream" });

/** Every error code the gateway can answer with. Add a kind here and the compiler asks for its status. */
export const ERROR_KINDS = {
  // request shape
  invalid_request: c(400, "invalid_request_error"),
  invalid_json: c(400, "invalid_request_error"),
  malformed_header: c(400, "invalid_request_error"),
  api_key_in_query: c(400, "invalid_request_error"),
  request_too_large: c(413, "invalid_request_error"),
  unsupported_media_type: c(415, "invalid_request_error"),
  not_found: c(404, "not_found_error"),
  method_not_allowed: c(405, "invalid_request_error"),
  model_not_found: c(404, "not_found_error"),
  template_not_found: c(404, "not_found_error"),
  template_error: c(400, "invalid_request_error"),
  template_limit_exceeded: c(400, "invalid_request_error"),
  idempotency_key_conflict: c(409, "conflict_error"),
  idempotency_key_in_use: c(409, "conflict_error"),
  /** An admin action the resource's state forbids (e.g. unfreezing a revoked key). */
  invalid_state: c(409, "conflict_error"),
  // credentials and signatures
  missing_api_key: c(401, "authentication_error"),
  invalid_api_key: c(401, "authentication_error"),
  key_expired: c(401, "authentication_error"),
  missing_signature: c(401, "authentication_error"),
  invalid_signature: c(401, "authentication_error"),
  stale_timestamp: c(401, "authentication_error"),
  replayed_nonce: c(401, "authentication_error"),
  invalid_service_token: c(401, "authentication_error"),
  admin_unauthorized: c(401, "authentication_error"),
  /** Too many wrong admin tokens from this source (or, for ADMIN_TOKEN, from everywhere): even the right one waits. */
  admin_login_throttled: c(429, "rate_limit_error"),
  // permissions
  ip_not_allowed: c(403, "permission_error"),
  key_frozen: c(403, "permission_error"),
  key_revoked: c(403, "permission_error"),
  tenant_banned: c(403, "permission_error"),
  scope_denied: c(403, "permission_error"),
  /** An admin or service credential whose role or scope does not cover the route. */
  insufficient_role: c(403, "permission_error"),
  origin_not_allowed: c(403, "permission_error"),
  // limits and money
  rate_limit_exceeded: c(429, "rate_limit_error"),
  tokens_rate_limit_exceeded: c(429, "rate_limit_error"),
  global_rate_limit_exceeded: c(429, "rate_limit_error"),
  /** Too many requests in flight for the tenant, key or service (max_concurrent_requests). */
  concurrency_limit_exceeded: c(429, "rate_limit_error"),
  daily_quota_exceeded: c(429, "insufficient_quota"),
  monthly_quota_exceeded: c(429, "insufficient_quota"),
  quota_exceeded: c(429, "insufficient_quota"),
  insufficient_balance: c(402, "insufficient_quota"),
  // the gateway itself
  internal_error: g(500, "api_error"),
  auth_unavailable: g(503, "api_error"),
  limiter_unavailable: g(503, "api_error"),
  balance_unavailable: g(503, "api_error"),
  config_unavailable: g(503, "api_error"),
  ledger_unavailable: g(503, "api_error"),
  step_timeout: g(504, "timeout_error"),
  no_available_upstream: g(503, "api_error"),
  circuit_open: g(503, "api_error"),
  /** The upstream target's concurrency slots are short and this request's priority class is shed. */
  overloaded: g(503, "api_error"),
  egress_denied: g(502, "api_error"),
  /** A stored preset names a credential outside PROVIDER_SECRETS (or one of the gateway's own secrets): never sent. */
  credential_not_allowed: g(503, "api_error"),
  // the upstream provider
  upstream_error: u(502, "upstream_error"),
  upstream_timeout: u(504, "timeout_error"),
  upstream_response_too_large: u(502, "upstream_error"),
  upstream_rate_limited: u(429, "rate_limit_error"),
  upstream_bad_response: u(502, "upstream_error"),
} as const satisfies Record<string, KindInfo>;

export type ErrorKind = keyof typeof ERROR_KINDS;

/** An expected failure, as a value. */
export interface GatewayFailure {
  kind: ErrorKind;
  message: string;
  param?: string | null;
  /** Overrides the kind's status, e.g. to pass an upstream 400 through. */
  status?: number;
  upstreamStatus?: number;
  retryAfterSeconds?: number;
  headers?: Record<string, string>;
}

export function fail(kind: ErrorKind, message: string, extra: Omit<GatewayFailure, "kind" | "message"> = {}): GatewayFailure {
  return { kind, message, ...extra };
}

/** Carries a failure through code that is not a pipeline step (routes, config loads); caught once in app.onError. */
export class GatewayError extends Error {
  constructor(readonly failure: GatewayFailure) {
    super(failure.message);
    this.name = "GatewayError";
  }
}

export function statusOf(failure: GatewayFailure): number {
  return failure.status ?? ERROR_KINDS[failure.kind].status;
}

export function sourceOf(kind: ErrorKind): ErrorSource {
  return ERROR_KINDS[kind].source;
}

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: ErrorKind; param: string | null };
  trace_id: string;
}

export function errorBody(failure: GatewayFailure, traceId: string): ErrorBody {
  return {
    error: {
      message: failure.message,
      type: ERROR_KINDS[failure.kind].type,
      code: failure.kind,
      param: failure.param ?? null,
    },
    trace_id: traceId,
  };
}

/** The error types Anthropic's API answers with (its SDK's `ErrorObject` union). */
type AnthropicErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "billing_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "timeout_error"
  | "api_error"
  | "overloaded_error";

/**
 * The Anthropic routes (`/messages` and its siblings) answer in Anthropic's shape. Anthropic's type
 * follows from the status, so each kind maps through its status: first the statuses Anthropic spells
 * differently (our 503 "unavailable, retry shortly" is its 529 overloaded), then the type per status;
 * any other 4xx is invalid_request_error and any other 5xx api_error, as Anthropic documents.
 */
export const ANTHROPIC_STATUS = { 503: 529 } as const satisfies Record<number, number>;
export const ANTHROPIC_ERROR_TYPES = {
  400: "invalid_request_error",
  401: "authentication_error",
  402: "billing_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
  500: "api_error",
  504: "timeout_error",
  529: "overloaded_error",
} as const satisfies Record<number, AnthropicErrorType>;

export function anthropicStatusOf(failure: GatewayFailure): number {
  const status = statusOf(failure);
  return (ANTHROPIC_STATUS as Record<number, number>)[status] ?? status;
}

function anthropicTypeOf(status: number): AnthropicErrorType {
  return (ANTHROPIC_ERROR_TYPES as Record<number, AnthropicErrorType>)[status] ?? (status < 500 ? "invalid_request_error" : "api_error");
}

export interface AnthropicErrorBody {
  type: "error";
  /** `details.error_code` is the gateway's code (Anthropic puts its own machine-readable codes there too). */
  error: { type: AnthropicErrorType; message: string; details: { error_code: ErrorKind; param?: string } };
  request_id: string | null;
}

/** Anthropic's error body (also the data of an Anthropic stream's `error` event). */
export function anthropicErrorBody(failure: GatewayFailure, requestId: string | null): AnthropicErrorBody {
  const details: AnthropicErrorBody["error"]["details"] = { error_code: failure.kind };
  if (failure.param) details.param = failure.param;
  return { type: "error", error: { type: anthropicTypeOf(anthropicStatusOf(failure)), message: failure.message, details }, request_id: requestId };
}

/** How an error is written: OpenAI's body (the default), or Anthropic's on the Anthropic routes. */
export type ErrorWire = { format: "openai" } | { format: "anthropic"; requestId: string };

/** The status a failure answers with in this wire format. */
export function wireStatusOf(failure: GatewayFailure, wire?: ErrorWire): number {
  return wire?.format === "anthropic" ? anthropicStatusOf(failure) : statusOf(failure);
}

export function errorResponse(failure: GatewayFailure, traceId: string, headers?: HeadersInit, wire?: ErrorWire): Response {
  const out = new Headers(headers);
  out.set("content-type", "application/json");
  out.set("x-trace-id", traceId);
  if (failure.retryAfterSeconds !== undefined) out.set("retry-after", String(Math.max(0, Math.ceil(failure.retryAfterSeconds))));
  for (const [name, value] of Object.entries(failure.headers ?? {})) out.set(name, value);
  const body = wire?.format === "anthropic" ? anthropicErrorBody(failure, wire.requestId) : errorBody(failure, traceId);
  return new Response(JSON.stringify(body), { status: wireStatusOf(failure, wire), headers: out });
}

/** An operation that either produced a value or failed in an expected way. */
export type Result<T> = { ok: true; value: T } | { ok: false; failure: GatewayFailure };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const err = <T = never>(failure: GatewayFailure): Result<T> => ({ ok: false, failure });
