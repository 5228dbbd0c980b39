// Step enforce_rate_limit: applies the TenantGuard's admission decision for rate limits (and the
// key/tenant status and nonce checks made in the same call). If the guard cannot be reached, rate
// limiting fails open (the request goes on, flagged in its audit record) unless the tenant's
// fail policy says closed; a signed request fails closed regardless, since its nonce went unchecked.
import type { GatewayContext } from "../context";
import { fail } from "../errors";
import { admission, rateLimitHeaders } from "../guard/admission";
import { answered, reject } from "../pipeline/step";
import type { GatewayStep } from "../pipeline/workflows";
import { isQuotaFailure } from "./check-quota";

export const enforceRateLimit: GatewayStep = {
  name: "enforce_rate_limit",
  after: ["route_request"],
  onFailure: "degrade",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const result = await admission(ctx);
    if (!result) {
      if (ctx.nonce) return reject(fail("auth_unavailable", "The replay check is unavailable; try again shortly.", { retryAfterSeconds: 1 }));
      if (ctx.principal?.failPolicy?.rate_limit === "closed") return reject(fail("limiter_unavailable", "The rate limiter is unavailable; try again shortly.", { retryAfterSeconds: 1 }));
      return fail("limiter_unavailable", "rate limiter unavailable");
    }
    rateLimitHeaders(result.rateLimit, ctx.responseHeaders);
    // An Idempotency-Key whose first request completed: the stored answer is the response (src/idempotency/response.ts).
    if (!result.ok && result.replay) return answered;
    // A refusal is a decision, not a failure of the limiter: it ends the request although this step degrades.
    if (!result.ok && !isQuotaFailure(result.failure.kind)) return reject(result.failure);
  },
  degrade(ctx: GatewayContext) {
    ctx.flags.add("rate_limit_fail_open");
  },
};
