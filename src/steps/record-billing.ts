// Completion task record_billing: once the response has ended, prices the usage actually delivered,
// settles (or releases) the tenant's hold in its TenantGuard, and emits one billing event to the ledger queue.
import { guardFor } from "../objects";
import type { CompletionOutcome, GatewayContext } from "../context";
import { costMicros } from "../billing/pricing";
import type { GatewayCompletion } from "./types";
import type { BillingMessage } from "../../queues/messages";
import { emitEvent } from "../billing/emit";
import { recordNegativeBalance } from "../metrics/events";

async function settle(ctx: GatewayContext, outcome: CompletionOutcome): Promise<void> {
  const principal = ctx.principal;
  const target = ctx.upstream?.target;
  const usage = outcome.usage;
  const guard = principal && ctx.holdId ? guardFor(ctx.env, principal.tenantId) : undefined;
  if (!principal || !target || !usage) {
    // Nothing was generated: give the reservation back.
    if (guard && ctx.holdId) await guard.release(ctx.holdId);
    return;
  }
  const cost = costMicros(target.pricing, usage);
  ctx.billing = { costMicros: cost, priceVersion: ctx.route?.configVersion ?? 0, currency: target.pricing.currency };
  if (guard && ctx.holdId) {
    const settled = await guard.settle({ holdId: ctx.holdId, tokens: usage.inputTokens + usage.outputTokens, costMicros: cost, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens });
    // A settlement above its reservation can take a balance below zero: counted, and alerted on.
    if (!settled.alreadySettled && !settled.unknownHold && settled.balanceMicros < 0) recordNegativeBalance(ctx.env, ctx.exec);
  }
  const message: BillingMessage = {
    v: 1,
    request_id: ctx.requestId,
    tenant_id: principal.tenantId,
    key_id: principal.keyId,
    channel: ctx.channel,
    kind: "debit",
    amount_micros: -cost,
    currency: target.pricing.currency,
    model: ctx.parsed?.model ?? null,
    upstream: target.id,
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    usage_estimated: usage.estimated,
    price_version: ctx.billing.priceVersion,
    created_at: new Date(ctx.receivedAt).toISOString(),
  };
  await emitEvent(ctx, "billing", message);
}

export const recordBilling: GatewayCompletion = {
  name: "record_billing",
  run: settle,
};
