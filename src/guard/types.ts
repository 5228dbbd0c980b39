// Wire types of the TenantGuard Durable Object's RPC surface, shared by the DO and the pipeline steps.
import type { GatewayFailure } from "../errors";

export type GuardChannel = "external" | "internal";
export type GuardCapability = "chat" | "embeddings";

export interface LimitRule {
  requests_per_minute?: number;
  tokens_per_minute?: number;
}

export interface QuotaRule {
  id: string;
  scope: "tenant" | "key";
  type: "tokens" | "requests" | "cost";
  period: "daily" | "monthly" | "never";
  /** Tokens, requests, or micro-units of currency, per period. */
  limit: number;
  /** Absent: counts every capability. */
  capability?: GuardCapability;
  /** IANA time zone whose midnight starts a period (e.g. "Asia/Shanghai"); absent = UTC. */
  timeZone?: string;
}

export interface AdmissionRequest {
  /** Trace id: admit is idempotent per requestId (a retry returns the same decision). It is also the hold id. */
  requestId: string;
  keyId: string;
  channel: GuardChannel;
  capability: GuardCapability;
  /** The caller's per-IP bucket (src/security/ip.ts ipRateLimitBucket): a canonical IPv4 address or an IPv6 network. */
  clientIp: string | null;
  /** Signed external requests: the nonce and the signature timestamp (unix seconds, as signed). */
  nonce?: { value: string; timestamp: number };
  /** Already resolved for the channel. */
  limits: { tenant?: LimitRule; key?: LimitRule; ip?: LimitRule };
  quotas: QuotaRule[];
  /** Upper-bound estimates reserved until settlement; integers. */
  estimate: { tokens: number; costMicros: number };
  /** External: reserve estimate.costMicros from the prepaid balance. */
  chargeBalance: boolean;
  /** External requests with an Idempotency-Key: checked (and claimed) in this same call, no second round trip. */
  idempotency?: IdempotencyClaim;
  /** The model asked for: carried into the ledger row if the hold expires unsettled. */
  model?: string;
  /** Caps on this channel's open holds (requests in flight): a slot is the hold itself, freed when it closes. */
  concurrency?: ConcurrencyCaps;
  /** Milliseconds; tests inject the clock (production omits it: Date.now()). */
  now?: number;
}

export interface ConcurrencyCaps {
  /** Open holds of the channel in the object: the tenant's cap (external) or the service's (internal). */
  tenant?: number;
  /** Open holds of this key. */
  key?: number;
  /** Wait (in the object, FIFO) for a slot instead of a refusal at once: the tenant's policy `queue`. */
  queue?: { maxLength: number; maxWaitMs: number };
}

/** A client's Idempotency-Key (unique per tenant) and the SHA-256 (hex) of the request's method, path and raw body. */
export interface IdempotencyClaim {
  key: string;
  fingerprint: string;
}

/** What a completed idempotent request answered, kept to replay it. */
export interface StoredResponse {
  status: number;
  /** Only the headers that describe the body (content-type, cache-control). */
  headers: Record<string, string>;
  /** The exact bytes sent: the JSON answer, or the client-format SSE text of a stream. */
  body: Uint8Array;
  /** Replayed as a text/event-stream. */
  stream: boolean;
}

/** How an idempotent request ended, reported from the completion path (waitUntil) with its hold id. */
export type IdempotencyFinish =
  | { key: string; holdId: string; outcome: "completed"; response: StoredResponse }
  /** Completed, but the body exceeded the replay limit: the key stays used, later retries get a 409. */
  | { key: string; holdId: string; outcome: "too_large"; bytes: number }
  /** Failed or cut short: the key is freed so a retry can proceed. */
  | { key: string; holdId: string; outcome: "failed" };

export type OutboxKind = "billing" | "audit";

/** An event whose queue send failed, as held by the outbox; `message` is the queue message as it would have been sent. */
export interface OutboxMessage {
  request_id: string;
  [field: string]: unknown;
}

export interface OutboxPutResult {
  /** False when the outbox already held (or already sent) this kind and request id: nothing new is sent. */
  stored: boolean;
}

export interface OutboxStatus {
  pending: number;
  /** Sent rows still remembered (for idempotent puts) until their retention ends. */
  sent: number;
  /** When the next drain attempt is due (ms), if anything is pending. */
  nextAttemptAt: number | null;
  /** Most attempts any pending row has had. */
  maxAttempts: number;
}

/** The most restrictive configured level for requests and for tokens; absent fields = no such limit. */
export interface RateLimitSnapshot {
  limitRequests?: number;
  remainingRequests?: number;
  /** Milliseconds until the oldest counted request leaves the window (one more request fits then). */
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  /** Milliseconds until the oldest counted tokens leave the window. */
  resetTokensMs?: number;
  /** The most restrictive concurrency cap (tenant or key) and the slots it has left, this request's counted. */
  limitConcurrency?: number;
  remainingConcurrency?: number;
}

export type AdmissionResult =
  | {
      ok: true;
      holdId: string;
      rateLimit: RateLimitSnapshot;
      /** Balance of record in the DO (holds not subtracted); only when chargeBalance. */
      balanceMicros?: number;
      /** balanceMicros minus every open hold, this one included; only when chargeBalance. */
      availableMicros?: number;
      /** True when this is the stored decision of an earlier call with the same requestId. */
      replayed?: boolean;
    }
  | {
      ok: false;
      failure: GatewayFailure;
      rateLimit: RateLimitSnapshot;
      /**
       * Idempotency-Key replay: the stored response of the completed first request. No hold was taken; the
       * gateway answers with it instead of calling the upstream (the failure is only a safe fallback: a 409).
       */
      replay?: StoredResponse;
    };

export interface Settlement {
  holdId: string;
  /** Real total tokens (replaces the TPM estimate). */
  tokens: number;
  /** Real cost in micro-units (charged when the hold reserved balance). */
  costMicros: number;
  inputTokens: number;
  outputTokens: number;
  /**
   * A request served with no hold because the guard could not be reached and the tenant's balance policy is
   * `open`: charged now, once per holdId (the request id), even below zero (the tenant chose to be served unchecked).
   */
  unheld?: { keyId: string; channel: GuardChannel };
  /** Accepted for symmetry with admit; settlement needs no clock (quota corrections follow the admission's period). */
  now?: number;
}

export interface SettleResult {
  balanceMicros: number;
  alreadySettled: boolean;
  /** No hold with this id is known (never issued, or closed longer ago than the retention): nothing charged here. */
  unknownHold?: boolean;
  /** What this settlement took from the balance: the ledger's debit must say the same. */
  chargedMicros: number;
  /** The real cost exceeded the reservation by more than the free balance: this much went uncharged (never below zero). */
  uncollectedMicros?: number;
  /**
   * The hold had expired and been charged its reservation before this settle arrived: the change this settle
   * made to that charge (positive: charged more, negative: refunded). The ledger records it as a correcting row.
   */
  correctionMicros?: number;
}

export interface ReleaseResult {
  /** False when the hold was already closed (settled, released, expired) or unknown. */
  released: boolean;
  balanceMicros: number;
}

export interface CreditResult {
  balanceMicros: number;
  applied: boolean;
}

export type KeyStatus = "active" | "frozen" | "revoked";
export type TenantStatus = "active" | "banned";

export interface SignatureFailureOptions {
  now?: number;
  threshold?: number;
  windowMs?: number;
}

export interface SignatureFailureResult {
  frozen: boolean;
  /** True only for the failure that froze the key: the caller audits the freeze once. */
  frozenNow: boolean;
  /** Failures inside the window, this one included. */
  failures: number;
}

export interface QuotaUsage {
  id: string;
  scope: "tenant" | "key";
  /** The key id for key-scoped quotas; null for tenant scope. */
  subject: string | null;
  type: QuotaRule["type"];
  period: QuotaRule["period"];
  used: number;
  limit: number;
  /** Start of the current period (ms); 0 for "never". */
  periodStart: number;
}

export interface GuardSnapshot {
  tenantStatus: TenantStatus;
  balanceMicros: number;
  /** Requests in flight: each open hold is one concurrency slot in use. */
  openHolds: number;
  /** Requests waiting for a slot (the queue policy). */
  queued: number;
  holdMicros: number;
  quotas: QuotaUsage[];
  keys: Record<string, { status: KeyStatus }>;
}

/** checkAccess(): the status and nonce checks of admit(), for routes that take no hold. */
export interface AccessCheck {
  keyId: string;
  /** The gateway's request id (holds the nonce). */
  requestId: string;
  nonce?: { value: string; timestamp: number };
  now?: number;
}

export type AccessResult = { ok: true } | { ok: false; failure: GatewayFailure };

/** The hold id of a request admitted without asking the TenantGuard (nothing to enforce): nothing to settle or release. */
export const NO_HOLD = "";
