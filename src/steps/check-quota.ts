// Step check_quota: applies the TenantGuard's admission decision for quotas and the prepaid
// balance (reserved as a hold until settlement). Balance checks fail closed by default: if the
// guard cannot be reached, the request is refused with 503 rather than served unpaid — unless the
// tenant's fail policy says open, in which case the request goes on flagged and is still billed.
import type { GatewayContext } from "../context";
import { fail, type ErrorKind } from "../errors";
import { admission } from "../guard/admission";
import { reject } from "../pipeline/step";
import type { GatewayStep } from "../pipeline/workflows";

const QUOTA_KINDS: ReadonlySet<ErrorKind> = new Set(["insufficient_balance", "daily_quota_exceeded", "monthly_quota_exceeded", "quota_exceeded"]);

export function isQuotaFailure(kind: ErrorKind): boolean {
  return QUOTA_KINDS.has(kind);
}

export const checkQuota: GatewayStep = {
  name: "check_quota",
  after: ["route_request"],
  onFailure: "degrade",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const result = await admission(ctx);
    if (!result) {
      const closed = ctx.channel === "external" && (ctx.principal?.failPolicy?.balance ?? "closed") === "closed";
      if (closed) return reject(fail("balance_unavailable", "The balance service is unavailable; try again shortly.", { retryAfterSeconds: 1 }));
      return fail("balance_unavailable", "balance service unavailable");
    }
    if (!result.ok && isQuotaFailure(result.failure.kind)) return reject(result.failure);
  },
  degrade(ctx: GatewayContext) {
    ctx.flags.add("quota_fail_open");
  },
};
