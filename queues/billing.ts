// Consumer of the billing queue: writes one ledger row per request id (duplicates are no-ops).
import type { Env } from "../src/env";
import { billingEventProblem, recordBillingEvents, type BillingEvent } from "../src/db/ledger";
import { consumeLedgerBatch, type LedgerConsumer } from "./consumer";
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
    meta: { channel: m.channel, upstream: m.upstream },
    occurredAt: m.created_at,
  };
}

export const billingConsumer: LedgerConsumer<typeof BillingMessageSchema> = {
  name: "billing",
  schema: BillingMessageSchema,
  deadLetter: (env) => env.BILLING_DLQ,
  problem: (m) => billingEventProblem(billingEventOf(m)),
  write: async (db, messages) => {
    await recordBillingEvents(db, messages.map(billingEventOf));
  },
};

export function consumeBilling(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  return consumeLedgerBatch(billingConsumer, batch, env, ctx);
}
