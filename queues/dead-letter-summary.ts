// What the error log keeps of a dead letter that is gone: per event, the fields an operator needs to
// rebuild its ledger or audit row by hand (ids, tenant, amount, time), picked by name from a fixed
// list, so nothing else a message might carry reaches the log.
import { eventsOf } from "./messages";

const BILLING_FIELDS = ["request_id", "tenant_id", "key_id", "kind", "amount_micros", "currency", "model", "input_tokens", "output_tokens", "created_at"] as const;
const AUDIT_FIELDS = ["request_id", "trace_id", "tenant_id", "key_id", "channel", "route", "status", "cost_micros", "created_at"] as const;
const MAX_TEXT = 200;

export type EventSummary = Record<string, string | number | boolean | null>;

function pick(event: unknown, fields: readonly string[]): EventSummary {
  if (typeof event !== "object" || event === null) return { unreadable: true };
  const out: EventSummary = {};
  for (const field of fields) {
    const value = (event as Record<string, unknown>)[field];
    if (typeof value === "string") out[field] = value.slice(0, MAX_TEXT);
    else if (typeof value === "number" || typeof value === "boolean" || value === null) out[field] = value;
  }
  return out;
}

/** One summary per event the dead letter carries (one `{ unreadable: true }` when it holds none). */
export function lostEventSummaries(queue: string, body: unknown): EventSummary[] {
  const events = eventsOf(body);
  if (!events) return [{ unreadable: true }];
  const fields = queue.startsWith("gateway-billing") ? BILLING_FIELDS : AUDIT_FIELDS;
  return events.map((e) => pick(e, fields));
}
