// Step check_quota: applies the TenantGuard's admission decision for quotas and the prepaid
// balance (reserved as a hold until settlement). Balance checks fail closed: if the guard cannot
// be reached, the request is refused with 503 rather than served unpaid.
import type { GatewayContext } from "../context";
import { fail, type ErrorKind } from "../errors";
import { admission } from "../guard/admission";
import type { GatewayStep } from "../pipeline/workflows";

const QUOTA_KINDS: ReadonlySet<ErrorKind> = new Set(["insufficient_balance", "daily_quota_exceeded", "monthly_quota_exceeded", "quota_exceeded"]);

export function isQuotaFailure(kind: ErrorKind): boolean {
  return QUOTA_KINDS.has(kind);
}

export const checkQuota: GatewayStep = {
  name: "check_quota",
  after: ["route_request"],
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const result = await admission(ctx);
    if (!result) return fail("balance_unavailable", "The balance service is unavailable; try again shortly.", { retryAfterSeconds: 1 });
    if (!result.ok && isQuotaFailure(result.failure.kind)) return result.failure;
  },
};
