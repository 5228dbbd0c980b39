// Step admit: one TenantGuard admit() round trip decides the signed request's nonce, the key and tenant
// status, every rate-limit level, the quotas and the balance hold (and claims an Idempotency-Key), with
// the global bucket asked in parallel. When the guard cannot be reached, each dimension it decides
// follows its row of the policy table below, in order.
import type { GatewayContext } from "../context";
import { MAX_QUEUE_WAIT_MS, type FailPolicy } from "../config/schemas";
import { fail, type ErrorKind, type GatewayFailure } from "../errors";
import { admission, rateLimitHeaders } from "../guard/admission";
import { answered, failed, reject } from "../pipeline/step";
import type { GatewayStep } from "./types";

interface UnreachablePolicy {
  /** What the guard decides that cannot be decided without it. */
  dimension: "signed_request" | "rate_limit" | "quota_and_balance";
  /** Whether the dimension is at stake for this request. */
  applies(ctx: GatewayContext): boolean;
  /** Refuse (fail closed) rather than serve unchecked. */
  failsClosed(policy: Partial<FailPolicy>, ctx: GatewayContext): boolean;
  refusal: GatewayFailure;
  /** The audit flag of a request served with the dimension unchecked. */
  openFlag?: string;
}

const retryShortly = { retryAfterSeconds: 1 };

/**
 * When the TenantGuard cannot be reached: a signed request's nonce went unchecked, so it is always refused;
 * rate limits fail open unless the tenant's fail policy says closed; quotas and the prepaid balance fail
 * closed on the external channel unless the policy says open (what is served is still billed).
 */
export const GUARD_UNREACHABLE_POLICY: readonly UnreachablePolicy[] = [
  {
    dimension: "signed_request",
    applies: (ctx) => ctx.nonce !== undefined,
    failsClosed: () => true,
    refusal: fail("auth_unavailable", "The replay check is unavailable; try again shortly.", retryShortly),
  },
  {
    dimension: "rate_limit",
    applies: () => true,
    failsClosed: (policy) => policy.rate_limit === "closed",
    refusal: fail("limiter_unavailable", "The rate limiter is unavailable; try again shortly.", retryShortly),
    openFlag: "rate_limit_fail_open",
  },
  {
    dimension: "quota_and_balance",
    applies: () => true,
    failsClosed: (policy, ctx) => ctx.channel === "external" && (policy.balance ?? "closed") === "closed",
    refusal: fail("balance_unavailable", "The balance service is unavailable; try again shortly.", retryShortly),
    openFlag: "quota_fail_open",
  },
];

const UNREACHABLE: ErrorKind = "limiter_unavailable";

export const admitRequest: GatewayStep = {
  name: "admit",
  onFailure: "degrade",
  // The admission call's own timeout comes first (2 s, plus the wait of a tenant whose policy queues).
  timeoutMs: 3_000 + MAX_QUEUE_WAIT_MS,
  retries: 0,
  async run(ctx: GatewayContext) {
    const result = await admission(ctx);
    ctx.admission = result;
    if (!result) {
      const policy = ctx.principal?.failPolicy ?? {};
      for (const row of GUARD_UNREACHABLE_POLICY) {
        if (row.applies(ctx) && row.failsClosed(policy, ctx)) return reject(row.refusal);
      }
      return failed(fail(UNREACHABLE, "the tenant guard could not be reached; served with its checks open"));
    }
    rateLimitHeaders(result.rateLimit, ctx.responseHeaders);
    // An Idempotency-Key whose first request completed: the stored answer is the response (src/idempotency/response.ts).
    if (!result.ok && result.replay) return answered;
    // A refusal is a decision, not a failure of the guard: it ends the request although this step degrades.
    if (!result.ok) return reject(result.failure);
  },
  degrade(ctx: GatewayContext) {
    for (const row of GUARD_UNREACHABLE_POLICY) if (row.openFlag && row.applies(ctx)) ctx.flags.add(row.openFlag);
  },
};
