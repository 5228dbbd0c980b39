// The typed per-request context every pipeline step reads and writes (no string-keyed bag).
import type { ChatCompletionRequest, EmbeddingsRequest } from "./api/openai-schemas";
import type { Capability, FailPolicy, PresetItem, RateLimits, Scopes } from "./config/schemas";
import type { Env, Settings } from "./env";
import type { ErrorKind, ErrorSource } from "./errors";
import type { StepRecord } from "./pipeline/step";
import type { UsageMeter } from "./billing/usage-meter";
import type { AdmissionResult, QuotaRule } from "./guard/types";

export type Channel = "external" | "internal";

/** The wire format the client spoke; responses are given back in it. */
export type IngressFormat = "openai" | "anthropic";

export type ParsedRequest =
  | { capability: "chat"; model: string; stream: boolean; body: ChatCompletionRequest }
  | { capability: "embeddings"; model: string; stream: false; body: EmbeddingsRequest };

/** Who is calling: a tenant's API key (external) or a service token (internal). */
export interface Principal {
  kind: "api_key" | "service";
  /** The tenant (external) or service (internal) whose Durable Object holds the limits. */
  tenantId: string;
  keyId: string;
  scopes: Scopes;
  rateLimits?: RateLimits;
  tenantRateLimits?: RateLimits;
  /** Per client IP limits set on the tenant. */
  ipRateLimits?: RateLimits;
  quotas?: QuotaRule[];
  /** What to do when the TenantGuard cannot be reached (defaults: rate limits open, balance closed). */
  failPolicy?: FailPolicy;
}

export interface RouteDecision {
  /** Candidates in the order they will be tried; the first is the primary. */
  candidates: PresetItem[];
  configVersion: number;
}

export interface UpstreamAttempt {
  target: string;
  status?: number;
  error?: ErrorKind;
  durationMs: number;
}

export interface UpstreamResult {
  target: PresetItem;
  status: number;
  headers: Headers;
  /** Streaming calls: the live upstream body, read as the client reads. */
  stream?: ReadableStream<Uint8Array>;
  /** Non-streaming calls: the whole body, read within the size limit. */
  bytes?: Uint8Array;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** True when counted by the gateway rather than reported by the upstream. */
  estimated: boolean;
}

export interface ErrorAttribution {
  source: ErrorSource;
  code: ErrorKind;
  upstreamStatus?: number;
}

/** How a response body ended, known only once a (possibly streamed) body has been fully sent. */
export interface CompletionOutcome {
  usage?: Usage;
  /** The TenantGuard's decision for this request (one admit() call shared by quota and rate-limit steps). */
  admission?: Promise<AdmissionResult | undefined>;
  /** The hold reserved by admission, settled or released when the request completes. */
  holdId?: string;
  /** Final HTTP status sent to the client (set when the response is built). */
  status?: number;
  billing?: { costMicros: number; priceVersion: number; currency: string };
  /** Counts tokens as the response passes (set by transform_response). */
  meter?: UsageMeter;
  /** "complete": the whole body went out; "client_aborted": the client left; "upstream_failed": it broke mid-way. */
  ending: "complete" | "client_aborted" | "upstream_failed";
  bytesSent: number;
}

export interface PendingResponse {
  status: number;
  headers: Headers;
  /** A JSON answer, kept as an object so later steps can edit it without re-parsing. */
  json?: unknown;
  stream?: ReadableStream<Uint8Array>;
}

export interface GatewayContext {
  /** Correlates the request with its distributed trace; may come from the client (traceparent, x-request-id). */
  readonly traceId: string;
  /** Minted by the gateway for this request alone: the idempotency key of its hold, ledger row and audit row. */
  readonly requestId: string;
  readonly channel: Channel;
  readonly ingress: IngressFormat;
  readonly capability: Capability;
  readonly env: Env;
  readonly settings: Settings;
  readonly exec: ExecutionContext;
  readonly request: Request;
  /** The raw body as received (signatures are computed over these bytes). */
  readonly rawBody: Uint8Array;
  readonly clientIp: string | null;
  readonly receivedAt: number;
  parsed?: ParsedRequest;
  principal?: Principal;
  /** The signed request's nonce, checked for replay by the TenantGuard at admission. */
  nonce?: { nonce: string; timestamp: number };
  route?: RouteDecision;
  upstream?: UpstreamResult;
  /** Every upstream attempt (retries and fallbacks), for the audit record. */
  readonly attempts: UpstreamAttempt[];
  /** The response that will go to the client, built by transform / sanitize, serialized once at the end. */
  response?: PendingResponse;
  /** The TenantGuard's decision for this request (one admit() call shared by quota and rate-limit steps). */
  admission?: Promise<AdmissionResult | undefined>;
  /** The hold reserved by admission, settled or released when the request completes. */
  holdId?: string;
  /** Final HTTP status sent to the client (set when the response is built). */
  status?: number;
  billing?: { costMicros: number; priceVersion: number; currency: string };
  /** Counts tokens as the response passes (set by transform_response). */
  meter?: UsageMeter;
  /** Extra response headers set by steps (rate-limit headers, ...). */
  readonly responseHeaders: Headers;
  error?: ErrorAttribution;
  /** Flags for the audit record, e.g. "rate_limit_fail_open". */
  readonly flags: Set<string>;
  steps: StepRecord[];
  /** Callbacks run (in waitUntil) once the response body has ended, with how it ended. */
  readonly onComplete: Array<(outcome: CompletionOutcome) => Promise<void> | void>;
}
