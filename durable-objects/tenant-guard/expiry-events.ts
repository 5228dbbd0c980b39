// The ledger and audit events of a hold that expired unsettled: the isolate serving its request died with
// it in flight, so the TenantGuard itself records the charge (its reservation) through its outbox.
import type { AuditMessage, BillingMessage } from "../../queues/messages";
import type { Hold } from "./holds";

export const HOLD_EXPIRED_FLAG = "hold_expired";

export function expiryBilling(tenantId: string, hold: Hold, now: number): BillingMessage {
  return {
    v: 1,
    request_id: hold.id,
    tenant_id: tenantId,
    key_id: hold.keyId,
    channel: hold.channel === "internal" ? "internal" : "external",
    kind: "debit",
    amount_micros: -hold.cost,
    currency: "USD",
    model: hold.model,
    upstream: null,
    // The reservation's tokens (what the request could have used), all counted as input: an estimate.
    input_tokens: hold.estTokens,
    output_tokens: 0,
    usage_estimated: true,
    price_version: null,
    flags: [HOLD_EXPIRED_FLAG],
    created_at: new Date(now).toISOString(),
  };
}

export function expiryAudit(tenantId: string, hold: Hold, now: number): AuditMessage {
  return {
    v: 1,
    trace_id: hold.id,
    request_id: hold.id,
    tenant_id: tenantId,
    key_id: hold.keyId,
    channel: hold.channel === "internal" ? "internal" : "external",
    route: "",
    model: hold.model,
    upstream: null,
    status: 0,
    error_code: null,
    error_source: "gateway",
    upstream_status: null,
    latency_ms: Math.max(0, now - hold.at),
    step_timings: [],
    config_version: null,
    flags: [HOLD_EXPIRED_FLAG],
    input_tokens: hold.estTokens,
    output_tokens: 0,
    usage_estimated: true,
    cost_micros: hold.cost,
    meta: { ending: "hold_expired", admitted_at: new Date(hold.at).toISOString() },
    created_at: new Date(hold.at).toISOString(),
  };
}
