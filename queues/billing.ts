// Consumer of the billing queue: writes one ledger row per request id (duplicates are no-ops).
import type { Env } from "../src/env";
import { billingEventProblem, recordBillingEvents, type BillingEvent } from "../src/db/ledger";
import { consumeLedgerBatch, type LedgerConsumer } from "./consumer";
import { guardFor } from "../src/objects";
import { rowsAfterSettle, settlementOf } from "../src/billing/settlement-rows";
import { BillingMessageSchema, type BillingMessage } from "./messages";

export function billingEventOf(m: BillingMessage): BillingEvent {
  return {
    tenantId: m.tenant_id,
    keyId: m.key_id,
    requestId: m.request_id,
    kind: m.kind,
    amountMicros: m.amount_micros,
    currency: m.currency,
    model: m.model,
    inputTokens: m.input_tokens,
    outputTokens: m.output_tokens,
    priceVersion: m.price_version,
    usageEstimated: m.usage_estimated,
    meta: {
      channel: m.channel,
      upstream: m.upstream,
      ...(m.flags?.length && { flags: m.flags }),
      ...(m.corrects !== undefined && { corrects: m.corrects }),
      ...(m.uncollected_micros !== undefined && { uncollected_micros: m.uncollected_micros }),
    },
    batchId: m.batch_id ?? null,
    occurredAt: m.created_at,
  };
}

/**
 * An event the gateway could not settle in the TenantGuard (unreachable at the time): settled there now,
 * idempotently by request id, and written for what the guard charged. Throws while the guard is unreachable,
 * so the batch is retried: the row is never written before the guard has charged it.
 */
async function settlePending(env: Env, message: BillingMessage): Promise<BillingMessage[]> {
  const settled = await guardFor(env, message.tenant_id).settle({ holdId: message.request_id, ...settlementOf(message) });
  return rowsAfterSettle(message, settled);
}

export const billingConsumer: LedgerConsumer<typeof BillingMessageSchema> = {
  name: "billing",
  schema: BillingMessageSchema,
  deadLetter: (env) => env.BILLING_DLQ,
  problem: (m) => billingEventProblem(billingEventOf(m)),
  write: async (db, messages, env) => {
    const settled = await Promise.all(messages.map((m) => (m.guard_pending ? settlePending(env, m) : [m])));
    await recordBillingEvents(db, settled.flat().map(billingEventOf));
  },
};

export function consumeBilling(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  return consumeLedgerBatch(billingConsumer, batch, env, ctx);
}
