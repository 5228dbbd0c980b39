// The global rate-limit bucket shared by every tenant (`gw:rl:global`): the small interface both
// backends (Durable Object, Upstash Redis) implement, and its request and decision values.
import type { GuardChannel } from "../guard/types";

/** Per-minute limits of the global bucket for one channel (from `config:global-limits`). */
/** How long a decision may take before admission goes on without it (fail open): well under the 2 s admission timeout. */
export const GLOBAL_TIMEOUT_MS = 250;

export interface GlobalLimits {
  requests_per_minute?: number;
  tokens_per_minute?: number;
}

export interface GlobalTake {
  tenantId: string;
  /** The tenant's share when the bucket is saturated, relative to the other active tenants (> 0). */
  weight: number;
  channel: GuardChannel;
  limits: GlobalLimits;
  /** The request's token estimate, counted against tokens_per_minute; 0 when absent. */
  tokens?: number;
  /** Milliseconds; tests inject the clock (production omits it). */
  now?: number;
}

export interface GlobalDecision {
  ok: boolean;
  /** 0 when admitted; otherwise milliseconds until the window ends and the bucket refills. */
  retryAfterMs: number;
  /** The limit that refused the request. */
  reason?: "requests" | "tokens";
  /** Start (ms) of the fixed window the request was counted in; a refund names it. */
  windowStart: number;
  /** What this tenant may still take in this window (its guaranteed share plus what it may borrow). */
  remainingRequests?: number;
  remainingTokens?: number;
}

/** Gives back what an admitted take counted, when the tenant's own guard refused the request. */
export interface GlobalRefund {
  tenantId: string;
  channel: GuardChannel;
  windowStart: number;
  tokens?: number;
}

export interface GlobalLimiter {
  readonly backend: "durable_object" | "redis";
  take(req: GlobalTake): Promise<GlobalDecision>;
  /** A no-op once the window has passed (its counters are gone anyway). */
  refund(req: GlobalRefund): Promise<void>;
}
