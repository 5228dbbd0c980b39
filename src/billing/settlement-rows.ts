// The ledger rows of a request once its TenantGuard settled it: the debit for what the guard charged (so
// the two books agree to the micro-unit), or, when the hold had expired and been charged its reservation
// (its own debit row already written by the guard), a correcting row for the difference. Used by the
// gateway's record_billing and by the billing consumer for events whose settlement had to wait.
import type { BillingMessage } from "../../queues/messages";
import type { SettleResult, Settlement } from "../guard/types";

/** The settlement a debit event asks the TenantGuard for (its amount is the full cost). */
export function settlementOf(message: BillingMessage): Omit<Settlement, "holdId"> {
  const cost = -message.amount_micros;
  return {
    tokens: message.input_tokens + message.output_tokens,
    costMicros: cost,
    inputTokens: message.input_tokens,
    outputTokens: message.output_tokens,
    unheld: { keyId: message.key_id, channel: message.channel },
  };
}

/** `message` carries the full cost; `settled` is the guard's answer. */
export function rowsAfterSettle(message: BillingMessage, settled: SettleResult): BillingMessage[] {
  const cost = -message.amount_micros;
  const charged = settled.unknownHold ? cost : settled.chargedMicros;
  const { guard_pending: _pending, ...rest } = message;
  const base: BillingMessage = { ...rest, amount_micros: -charged };
  if (settled.uncollectedMicros) Object.assign(base, { uncollected_micros: settled.uncollectedMicros, flags: [...(base.flags ?? []), "over_reservation"] });
  if (settled.correctionMicros === undefined) return [base];
  const delta = settled.correctionMicros;
  if (delta === 0) return [];
  return [
    {
      ...base,
      request_id: `${message.request_id}:settle`,
      kind: delta > 0 ? "debit" : "refund",
      amount_micros: -delta,
      input_tokens: 0,
      output_tokens: 0,
      corrects: message.request_id,
      flags: ["correction", "settle_after_expiry", ...(base.flags ?? [])],
    },
  ];
}
