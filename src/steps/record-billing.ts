// Completion task record_billing: once the response has ended, prices the usage actually delivered,
// settles (or releases) the tenant's hold in its TenantGuard, and emits the billing event for what the
// guard charged, so the two books agree to the micro-unit (src/billing/settlement-rows.ts):
// - a hold is settled at the real cost, never more than its reservation plus the free balance;
// - a hold that had expired (charged its reservation) gets a correcting row for the difference;
// - an answer over the size limit, paid upstream though not delivered, is billed and flagged (unreceived.ts);
// - a request served unheld (guard unreachable at admission, balance policy open) is charged in the guard
//   now; if the guard cannot be reached now either, the billing consumer settles it before writing (guard_pending).
import { guardFor } from "../objects";
import type { CompletionOutcome, GatewayContext, Usage } from "../context";
import type { PresetItem } from "../config/schemas";
import { billableUsage } from "../billing/billable-usage";
import { costMicros, pricingOf } from "../billing/pricing";
import { rowsAfterSettle, settlementOf } from "../billing/settlement-rows";
import type { GatewayCompletion } from "./types";
import type { BillingMessage } from "../../queues/messages";
import { emitEvent } from "../billing/emit";
import { recordNegativeBalance } from "../metrics/events";
import { isOversizeAnswer, OVERSIZE_FLAG, unreceivedCharge } from "../billing/unreceived";

/** A response-cache hit: its preset's cache price, and its stored tokens only when the preset counts them. */
function cacheHitCharge(ctx: GatewayContext): { target: PresetItem; usage: Usage; costMicros: number } | undefined {
  const cache = ctx.cache;
  if (!cache?.served || !cache.preset || !cache.entry) return undefined;
  const settings = cache.preset.cache ?? {};
  const usage = settings.count_hit_tokens ? cache.entry.usage : { inputTokens: 0, outputTokens: 0, estimated: false };
  return { target: cache.preset, usage, costMicros: settings.hit_price_micros ?? 0 };
}

async function settle(ctx: GatewayContext, outcome: CompletionOutcome): Promise<void> {
  const principal = ctx.principal;
  const hit = cacheHitCharge(ctx);
  const target = hit?.target ?? ctx.upstream?.target;
  // An answer over the size limit was paid upstream though not delivered: billed all the same (unreceived.ts).
  const unreceived = unreceivedCharge(ctx);
  const oversize = isOversizeAnswer(ctx);
  if (oversize) ctx.flags.add(OVERSIZE_FLAG);
  const reported = outcome.usage ?? unreceived?.usage;
  // What the upstream reported, with what the request's priced extras are known to cost (src/billing/billable-usage.ts).
  const usage = hit ? hit.usage : reported && target ? billableUsage(reported, ctx.parsed?.body, target) : reported;
  if (!principal || !target || !usage) {
    // Nothing was generated: give the reservation back.
    if (principal && ctx.holdId) await guardFor(ctx.env, principal.tenantId).release(ctx.holdId);
    return;
  }
  const cost = hit ? hit.costMicros : (unreceived?.costMicros ?? costMicros(pricingOf(target.pricing, ctx.batch !== undefined), usage));
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
    price_version: ctx.route?.configVersion ?? 0,
    created_at: new Date(ctx.receivedAt).toISOString(),
    ...(oversize && { flags: [OVERSIZE_FLAG] }),
    ...(hit && { flags: ["cache_hit"] }),
    ...(ctx.batch && { batch_id: ctx.batch.id }),
  };
  // The guard holds a hold for this request, or should be charged for it: served unheld only because it
  // could not be reached at admission (a refusal or "nothing to enforce" leaves ctx.admission set).
  const inGuard = ctx.holdId !== undefined || (ctx.admission === undefined && ctx.channel === "external");
  let rows: BillingMessage[] = [message];
  if (inGuard) {
    try {
      const settled = await guardFor(ctx.env, principal.tenantId).settle({ holdId: ctx.holdId ?? ctx.requestId, ...settlementOf(message), ...(ctx.holdId !== undefined && { unheld: undefined }) });
      if (settled.balanceMicros < 0) recordNegativeBalance(ctx.env, ctx.exec);
      // An internal hold charges no balance: its row records the cost.
      rows = ctx.channel === "external" ? rowsAfterSettle(message, settled) : [message];
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "settlement deferred to the billing consumer", request_id: ctx.requestId, error: String(error) }));
      if (ctx.channel === "external") rows = [{ ...message, guard_pending: true }];
    }
  }
  ctx.billing = { costMicros: rows.length === 1 && !rows[0]!.corrects ? -rows[0]!.amount_micros : cost, priceVersion: ctx.route?.configVersion ?? 0, currency: target.pricing.currency };
  for (const row of rows) await emitEvent(ctx, "billing", row);
}

export const recordBilling: GatewayCompletion = {
  name: "record_billing",
  run: settle,
};
