// The typed per-request context every pipeline step reads and writes (no string-keyed bag).
import type { ChatCompletionRequest, EmbeddingsRequest } from "./api/openai-schemas";
import type { Capability, PresetItem, RateLimits, Scopes } from "./config/schemas";
import type { Env, Settings } from "./env";
import type { ErrorKind, ErrorSource } from "./errors";
import type { StepRecord } from "./pipeline/step";

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
  body: ReadableStream<Uint8Array> | null;
  attempts: UpstreamAttempt[];
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
  /** "complete": the whole body went out; "client_aborted": the client left; "upstream_failed": it broke mid-way. */
  ending: "complete" | "client_aborted" | "upstream_failed";
  bytesSent: number;
}

export interface GatewayContext {
  readonly traceId: string;
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
  route?: RouteDecision;
  upstream?: UpstreamResult;
  /** The response that will go to the client, built by transform / sanitize. */
  response?: Response;
  usage?: Usage;
  /** Extra response headers set by steps (rate-limit headers, ...). */
  readonly responseHeaders: Headers;
  error?: ErrorAttribution;
  /** Flags for the audit record, e.g. "rate_limit_fail_open". */
  readonly flags: Set<string>;
  steps: StepRecord[];
  /** Callbacks run (in waitUntil) once the response body has ended, with how it ended. */
  readonly onComplete: Array<(outcome: CompletionOutcome) => Promise<void> | void>;
}
