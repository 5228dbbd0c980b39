// The UpstreamHealth RPC contract: what callers send and the breaker state they get back.
import type { PriorityClass } from "../../src/backpressure/priority-classes";
import type { BreakerConfig } from "./config";

export type BreakerPhase = "closed" | "open" | "half_open";

/** The breaker as the Durable Object sees it, returned by every RPC method. */
export interface BreakerState {
  /** The upstream target id (the preset item id), once a caller has told the object. */
  target: string | null;
  state: BreakerPhase;
  /** When the current phase began (ms); 0 for a breaker that has never moved. */
  since: number;
  /** While open: when probes may start. */
  openUntil: number | null;
  /** Counts half-open periods; a probe outcome only counts for the period that granted it. */
  cycle: number;
  probes: { granted: number; limit: number };
  /** Calls in the rolling window (counted while closed). */
  window: { calls: number; failures: number; failureRate: number; avgLatencyMs: number | null; windowMs: number };
  /** Transitions so far, by edge ("closed->open": 3). */
  transitions: Record<string, number>;
  /** Bumped on every transition, so a cache can drop replies older than what it holds. */
  version: number;
  config: BreakerConfig;
  /** The object's clock when it produced this state. */
  at: number;
}

/** Who is calling and with which settings; the object keeps the last ones it was given. */
export interface BreakerCall {
  target?: string;
  config?: BreakerConfig;
  /** Injectable clock for tests; the object's own clock otherwise. */
  now?: number;
}

export interface BreakerOutcome extends BreakerCall {
  ok: boolean;
  /** The calls' total latency (one call unless `count` says more). */
  latencyMs: number;
  /** How many calls had this outcome (isolates batch plain successes); 1 when absent. */
  count?: number;
  /** Set by a call made under a half-open probe permit: the `cycle` that granted it. */
  probeCycle?: number;
}

export interface ProbeGrant {
  /** True: go ahead (a probe when `state.state` is half_open, a plain call when closed). */
  granted: boolean;
  state: BreakerState;
}

/** A request asking for one of the target's concurrency slots (src/backpressure/target-slots.ts). */
export interface SlotRequest {
  /** The gateway's request id: acquire is idempotent per id, and release names it. */
  requestId: string;
  tenantId: string;
  /** The tenant's weight: its share of the slots among tenants waiting together. */
  weight: number;
  priority: PriorityClass;
  /** The target's max_concurrent_requests, as the caller's presets say. */
  limit: number;
  /** Wait for a slot (the tenant's queue policy) instead of a refusal at once. */
  queue?: { maxLength: number; maxWaitMs: number };
  target?: string;
  now?: number;
}

export type SlotGrant =
  | { granted: true; inFlight: number }
  /** Shed: the target's requests in flight reached this class's share (or the queue's wait or length ran out). */
  | { granted: false; inFlight: number; allowed: number; retryAfterMs: number };

export interface SlotState {
  inFlight: number;
  queued: number;
  byClass: Partial<Record<PriorityClass, number>>;
  byTenant: Record<string, number>;
}
