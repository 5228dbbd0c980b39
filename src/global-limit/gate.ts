// Joins the global bucket to admission without a second round trip: the global take runs in
// parallel with the tenant's admit() and the two answers are combined into one AdmissionResult.
// - global refuses, tenant admitted: the tenant's hold is released (waitUntil), 429 global_rate_limit_exceeded;
// - tenant refuses, global admitted: the global unit is refunded (waitUntil);
// - global limiter unreachable or slower than GLOBAL_TIMEOUT_MS: fail open, flagged global_limit_fail_open.
import { guardFor } from "../objects";
import type { GatewayContext } from "../context";
import { configStore } from "../config/store";
import { fail } from "../errors";
import type { AdmissionResult, RateLimitSnapshot } from "../guard/types";
import { WINDOW_MS } from "./fair-share";
import { globalLimiterFor } from "./select";
import { GLOBAL_TIMEOUT_MS, type GlobalDecision, type GlobalLimiter, type GlobalLimits, type GlobalTake } from "./types";
import { NO_HOLD } from "../guard/types";

export { GLOBAL_TIMEOUT_MS };
export const GLOBAL_FAIL_OPEN_FLAG = "global_limit_fail_open";

type GlobalCheck =
  | { kind: "off" }
  | { kind: "unavailable" }
  | { kind: "decided"; decision: GlobalDecision; limits: GlobalLimits; take: GlobalTake; limiter: GlobalLimiter; at: number };

async function tenantWeight(ctx: GatewayContext): Promise<number> {
  const principal = ctx.principal!;
  // Service tokens (internal channel) have no weight; tenants may. The record is in the config cache since authentication.
  if (principal.kind !== "api_key") return 1;
  const tenant = await configStore.tenant(ctx.env, principal.tenantId);
  return (tenant.ok && tenant.value?.weight) || 1;
}

async function checkGlobal(ctx: GatewayContext, estimateTokens: () => number): Promise<GlobalCheck> {
  const doc = await configStore.globalLimits(ctx.env);
  if (!doc.ok) return { kind: "unavailable" };
  const limits = doc.value?.[ctx.channel];
  // No global limit configured for the channel: no call at all (the document comes from the in-isolate cache).
  if (limits?.requests_per_minute === undefined && limits?.tokens_per_minute === undefined) return { kind: "off" };
  const limiter = globalLimiterFor(ctx.env);
  const take: GlobalTake = {
    tenantId: ctx.principal!.tenantId,
    weight: await tenantWeight(ctx),
    channel: ctx.channel,
    limits,
    tokens: limits.tokens_per_minute === undefined ? 0 : estimateTokens(),
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), GLOBAL_TIMEOUT_MS);
  });
  try {
    const decision = await Promise.race([limiter.take(take), timeout]);
    return decision ? { kind: "decided", decision, limits, take, limiter, at: Date.now() } : { kind: "unavailable" };
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "global limiter unavailable", backend: limiter.backend, trace_id: ctx.traceId, error: String(error) }));
    return { kind: "unavailable" };
  } finally {
    clearTimeout(timer);
  }
}

/** The tenant's snapshot, with the global bucket's figures where they are the more restrictive. */
function withGlobalSnapshot(snapshot: RateLimitSnapshot, check: Extract<GlobalCheck, { kind: "decided" }>): RateLimitSnapshot {
  const out = { ...snapshot };
  const resetMs = Math.max(0, check.decision.windowStart + WINDOW_MS - check.at);
  const { remainingRequests, remainingTokens } = check.decision;
  if (remainingRequests !== undefined && (out.remainingRequests === undefined || remainingRequests < out.remainingRequests)) {
    Object.assign(out, { limitRequests: check.limits.requests_per_minute, remainingRequests, resetRequestsMs: resetMs });
  }
  if (remainingTokens !== undefined && (out.remainingTokens === undefined || remainingTokens < out.remainingTokens)) {
    Object.assign(out, { limitTokens: check.limits.tokens_per_minute, remainingTokens, resetTokensMs: resetMs });
  }
  return out;
}

function inBackground(ctx: GatewayContext, what: string, work: Promise<unknown>): void {
  ctx.exec.waitUntil(
    work.then(
      () => undefined,
      (error) => console.error(JSON.stringify({ level: "error", msg: `${what} failed`, trace_id: ctx.traceId, error: String(error) })),
    ),
  );
}

/**
 * Combines the tenant's admission (already started) with the global bucket's decision (started here,
 * so both are in flight at once). `estimateTokens` is called only when a global TPM limit exists.
 */
export async function withGlobalLimit(
  ctx: GatewayContext,
  tenant: Promise<AdmissionResult | undefined>,
  estimateTokens: () => number,
): Promise<AdmissionResult | undefined> {
  const [result, check] = await Promise.all([tenant, checkGlobal(ctx, estimateTokens)]);
  if (check.kind === "off") return result;
  if (check.kind === "unavailable") {
    ctx.flags.add(GLOBAL_FAIL_OPEN_FLAG);
    return result;
  }
  const { decision, limiter, take } = check;
  if (decision.ok) {
    if (result && !result.ok) {
      inBackground(ctx, "global refund", limiter.refund({ tenantId: take.tenantId, channel: take.channel, windowStart: decision.windowStart, tokens: take.tokens }));
    }
    return result && { ...result, rateLimit: withGlobalSnapshot(result.rateLimit, check) };
  }
  // The tenant's own refusal is the more specific answer (and its guard counted nothing).
  if (result && !result.ok) return result;
  // A request admitted without a hold (nothing for its tenant to enforce) has nothing to release.
  if (result?.ok && result.holdId !== NO_HOLD) {
    const guard = guardFor(ctx.env, ctx.principal!.tenantId);
    inBackground(ctx, "hold release", guard.release(result.holdId));
    ctx.holdId = undefined;
  }
  const ms = decision.retryAfterMs;
  const what = decision.reason === "tokens" ? "tokens" : "requests";
  return {
    ok: false,
    failure: fail("global_rate_limit_exceeded", `The gateway's global ${what}-per-minute capacity is in use; retry after ${Math.ceil(ms / 1000)} s.`, {
      retryAfterSeconds: Math.ceil(ms / 1000),
      headers: { "retry-after-ms": String(ms) },
    }),
    rateLimit: withGlobalSnapshot(result?.rateLimit ?? {}, check),
  };
}
