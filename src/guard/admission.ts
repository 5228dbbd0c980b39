// The one admit() round trip to the tenant's Durable Object (nonce, rate limits, quotas, balance hold and
// Idempotency-Key in one call, the global bucket asked in parallel), and the rate-limit headers it yields.
// The admit step (src/steps/admit.ts) applies its decision and the failure policy.
import { guardFor } from "../objects";
import type { GatewayContext } from "../context";
import { fail } from "../errors";
import { reservationFor } from "../billing/reservation";
import { NO_HOLD, type AdmissionRequest, type AdmissionResult, type RateLimitSnapshot } from "./types";
import { withGlobalLimit } from "../global-limit/gate";
import { concurrencyCaps } from "../backpressure/concurrency";
import { withTargetSlot } from "../backpressure/target-slots";
import { ipRateLimitBucket } from "../security/ip";

/** How long admission may take before the steps apply their failure policy. */
export const ADMIT_TIMEOUT_MS = 2_000;
/** The request's reservation (src/billing/reservation.ts): the worst case any of its candidates can charge. */
export function estimateFor(ctx: GatewayContext): AdmissionRequest["estimate"] {
  return reservationFor(ctx.prompt!, ctx.parsed!, ctx.route?.candidates ?? []);
}

/**
 * Admission for one request; undefined means the Durable Object could not be reached in time. The global
 * bucket, when configured, is asked in parallel (src/global-limit/gate.ts): still one round trip.
 */
export function admission(ctx: GatewayContext): Promise<AdmissionResult | undefined> {
  // The target's concurrency slot (src/backpressure/target-slots.ts) is asked for in parallel too.
  return withTargetSlot(ctx, withGlobalLimit(ctx, admit(ctx), () => estimateFor(ctx).tokens));
}

/** Nothing for the TenantGuard to decide: no limits, concurrency caps, quotas, nonce, Idempotency-Key or balance to reserve. */
export function nothingToEnforce(request: Pick<AdmissionRequest, "limits" | "quotas" | "chargeBalance" | "nonce" | "idempotency" | "concurrency">): boolean {
  const { tenant, key, ip } = request.limits;
  const unlimited = [tenant, key, ip].every((l) => l?.requests_per_minute === undefined && l?.tokens_per_minute === undefined);
  return unlimited && request.concurrency === undefined && request.quotas.length === 0 && !request.chargeBalance && !request.nonce && !request.idempotency;
}

/** The decision when there was nothing to check: admitted with no hold (nothing to settle or release). */
const ADMITTED_WITHOUT_HOLD: AdmissionResult = { ok: true, holdId: NO_HOLD, rateLimit: {} };

async function admit(ctx: GatewayContext): Promise<AdmissionResult | undefined> {
  const principal = ctx.principal!;
  const checks = {
    nonce: ctx.nonce ? { value: ctx.nonce.nonce, timestamp: ctx.nonce.timestamp } : undefined,
    limits: { tenant: principal.tenantRateLimits, key: principal.rateLimits, ip: ctx.clientIp ? principal.ipRateLimits : undefined },
    quotas: principal.quotas ?? [],
    chargeBalance: ctx.channel === "external",
    // Idempotency-Key (src/idempotency/key.ts): checked and claimed by this same call, no second round trip.
    idempotency: await ctx.idempotency?.claim,
    // Concurrency slots (src/backpressure/concurrency.ts): the hold this call opens is the slot.
    concurrency: concurrencyCaps(principal),
  };
  // e.g. an internal service with no limits configured: no estimate, no Durable Object round trip.
  if (nothingToEnforce(checks)) return ADMITTED_WITHOUT_HOLD;
  const request: AdmissionRequest = {
    requestId: ctx.requestId,
    keyId: principal.keyId,
    channel: ctx.channel,
    capability: ctx.parsed!.capability,
    model: ctx.parsed!.model,
    // Per-IP limits count callers, not spellings: the canonical IPv4 address or the tenant's IPv6 network.
    clientIp: ctx.clientIp === null ? null : ipRateLimitBucket(ctx.clientIp, principal.ipv6RateLimitPrefix),
    ...checks,
    estimate: estimateFor(ctx),
  };
  const guard = guardFor(ctx.env, principal.tenantId);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // A queued request's call lasts as long as its wait: the guard answers by then.
  const timeoutMs = ADMIT_TIMEOUT_MS + (request.concurrency?.queue?.maxWaitMs ?? 0);
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const call = guard.admit(request);
  try {
    const result = await Promise.race([call, timeout]);
    if (result?.ok && result.holdId !== NO_HOLD) ctx.holdId = result.holdId;
    if (result === undefined) releaseLateHold(ctx, guard, call);
    return result;
  } catch (error) {
    // The guard refused the call itself (its input checks throw TypeError): something in this request is out
    // of range. That is the request's problem, never a guard outage: it must not fail open or read as a 503.
    if (error instanceof TypeError || error instanceof RangeError) {
      console.error(JSON.stringify({ level: "error", msg: "admission refused its input", trace_id: ctx.traceId, error: String(error) }));
      return { ok: false, failure: fail("invalid_request", "The request asks for more than the gateway can account for; lower max_tokens, n or the input size."), rateLimit: {} };
    }
    console.error(JSON.stringify({ level: "error", msg: "admission unavailable", trace_id: ctx.traceId, error: String(error) }));
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An answer that comes after the timeout may still carry a hold, and with it a concurrency slot and a
 * reservation nobody would close before its expiry (the request went on without it, or was refused).
 * It is released; a settle of the same request, if it was served, still charges it (settle after release).
 */
function releaseLateHold(ctx: GatewayContext, guard: ReturnType<typeof guardFor>, call: Promise<AdmissionResult>): void {
  ctx.exec.waitUntil(
    call.then(
      async (late) => {
        if (late.ok && late.holdId !== NO_HOLD && !late.replayed) await guard.release(late.holdId);
      },
      () => undefined,
    ),
  );
}

/** OpenAI's rate-limit header names, from the most restrictive configured level. */
export function rateLimitHeaders(snapshot: RateLimitSnapshot, headers: Headers): void {
  const set = (name: string, value: number | undefined, format: (v: number) => string = String) => {
    if (value !== undefined) headers.set(name, format(value));
  };
  const seconds = (ms: number) => `${Math.max(0, Math.ceil(ms / 1000))}s`;
  set("x-ratelimit-limit-requests", snapshot.limitRequests);
  set("x-ratelimit-remaining-requests", snapshot.remainingRequests);
  set("x-ratelimit-reset-requests", snapshot.resetRequestsMs, seconds);
  set("x-ratelimit-limit-tokens", snapshot.limitTokens);
  set("x-ratelimit-remaining-tokens", snapshot.remainingTokens);
  set("x-ratelimit-reset-tokens", snapshot.resetTokensMs, seconds);
  set("x-ratelimit-limit-concurrency", snapshot.limitConcurrency);
  set("x-ratelimit-remaining-concurrency", snapshot.remainingConcurrency);
}
