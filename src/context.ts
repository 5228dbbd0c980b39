// The typed per-request context every pipeline step reads and writes (no string-keyed bag).
import type { ChatCompletionRequest, EmbeddingsRequest } from "./api/openai-schemas";
import type { Capability, ConcurrencyPolicy, FailPolicy, PresetItem, RateLimits, Scopes } from "./config/schemas";
import type { PriorityClass } from "./backpressure/priority-classes";
import type { CallerCache } from "./cache/policy-schema";
import type { Env, Settings } from "./env";
import type { ErrorKind, ErrorSource } from "./errors";
import type { StepRecord } from "./pipeline/step";
import type { Ending, EndingKind } from "./pipeline/ending";
import type { Usage, UsageMeter } from "./billing/usage-meter";
import type { AdmissionResult, IdempotencyClaim, QuotaRule } from "./guard/types";
import type { RoutingPolicy } from "./config/schemas";
import type { Region } from "./region";
import type { StripFields } from "./providers/types";
import type { PromptCount } from "./billing/prompt-count";
import type { TokenUsage } from "./providers/types";
import type { CacheState } from "./cache/state";

export type { Usage };

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
  /** IPv6 callers count per network of this prefix length for ipRateLimits (absent: /64). */
  ipv6RateLimitPrefix?: number;
  quotas?: QuotaRule[];
  /** What to do when the TenantGuard cannot be reached (defaults: rate limits open, balance closed). */
  failPolicy?: FailPolicy;
  /** Caps on requests in flight (tenant or service, key) and what a request over them gets (src/backpressure). */
  concurrency?: PrincipalConcurrency;
  /** How the caller's traffic is shed at a saturated target: a service's setting (absent: interactive_internal), or "batch" for a batch line. */
  priorityClass?: PriorityClass;
  /** The response cache setting of the key, else of its tenant (src/cache/policy.ts). */
  cache?: CallerCache;
}

export interface PrincipalConcurrency {
  /** The tenant's cap (external) or the service's (internal). */
  tenant?: number;
  key?: number;
  policy?: ConcurrencyPolicy;
  /** The tenant's weight: its share of a target's slots when tenants wait for them together. */
  weight?: number;
}

export interface RouteDecision {
  /** Candidates in the order they will be tried; the first is the primary. */
  candidates: PresetItem[];
  configVersion: number;
  /** The route the bandit's statistics are kept under, and its policy (rewards are learned when there is one). */
  routeKey: string;
  policy?: RoutingPolicy;
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
  /** How long the successful attempt took to answer, and its half-open probe cycle: a stream's breaker outcome is reported when it ends. */
  latencyMs: number;
  probeCycle?: number;
  /**
   * Non-streaming calls whose answer was over the size limit: not delivered, but paid upstream, so billed
   * (src/billing/unreceived.ts) at the usage read from the body's tail, else at the reservation.
   */
  unreceived?: { usage?: TokenUsage };
}


export interface ErrorAttribution {
  source: ErrorSource;
  code: ErrorKind;
  upstreamStatus?: number;
}

/** How the request ended, given to every completion task (settlement, audit, metrics ...). */
export interface CompletionOutcome {
  usage?: Usage;
  ending: EndingKind;
  bytesSent: number;
  /** When the end was declared (ms): latency stops here, not after the completion work. */
  endedAt: number;
}

/** An external request's Idempotency-Key, from the header check to the completion that stores or frees it. */
export interface IdempotencyState {
  /** The key and the request's fingerprint (hashed while authentication runs), sent with admit(). */
  claim: Promise<IdempotencyClaim>;
  /** Set when admission claimed the key for this request: what the client received, to keep for replays. */
  capture?: { headers: Record<string, string>; stream: boolean; body: Promise<CapturedBody | null> };
}

/** The bytes a client received (null bytes: over the replay limit, only the size counted). */
export interface CapturedBody {
  bytes: Uint8Array | null;
  total: number;
}

export interface PendingResponse {
  status: number;
  headers: Headers;
  /** A JSON answer, kept as an object so later steps can edit it without re-parsing. */
  json?: unknown;
  stream?: ReadableStream<Uint8Array>;
  /** A stream's fields to remove from every event, read as it runs (set by sanitize_response). */
  stripFields?: StripFields;
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
  /** The caller's region as a Durable Object location hint (src/region.ts); null when unknown. */
  readonly region: Region | null;
  readonly receivedAt: number;
  parsed?: ParsedRequest;
  principal?: Principal;
  /** The signed request's nonce, checked for replay by the TenantGuard at admission. */
  nonce?: { nonce: string; timestamp: number };
  route?: RouteDecision;
  /** What the upstream reads of the request, counted before admission (step count_tokens): the reservation's input. */
  prompt?: PromptCount;
  upstream?: UpstreamResult;
  /** Every upstream attempt (retries and fallbacks), for the audit record. */
  readonly attempts: UpstreamAttempt[];
  /** The response that will go to the client, built by transform / sanitize, serialized once at the end. */
  response?: PendingResponse;
  /** The TenantGuard's decision for this request (the admit step's one call); undefined if it was not reached. */
  admission?: AdmissionResult;
  /** The hold reserved by admission, settled or released when the request completes. */
  holdId?: string;
  /** The upstream target whose concurrency slot this request holds (src/backpressure/target-slots.ts), released when it completes. */
  targetSlot?: string;
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
  /** The request's Idempotency-Key (external channel), when it sent one. */
  idempotency?: IdempotencyState;
  /** The response cache's decision for this request (src/steps/lookup-cache.ts); undefined before that step. */
  cache?: CacheState;
  /** Settled once, however the response ends; the workflow's completion list waits on it. */
  readonly ending: Ending;
  /** Set when the request is a line of a batch (src/pipeline/run-batch-line.ts): its id goes on the ledger and audit rows. */
  batch?: BatchLineContext;
}

export interface BatchLineContext {
  id: string;
  customId: string;
}
