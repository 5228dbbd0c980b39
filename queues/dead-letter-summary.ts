// What the error log keeps of a dead letter that is gone: per event, the fields an operator needs to
// rebuild its ledger or audit row, picked by name from a fixed list (scalars only), so nothing else a
// message might carry reaches the log. A billing event's list is its whole schema, so the logged
// event can be replayed as it is; an audit event's leaves out its free-form meta and step timings.
import { eventsOf } from "./messages";

const BILLING_FIELDS = [
  "v", "request_id", "tenant_id", "key_id", "channel", "kind", "amount_micros", "currency", "model", "upstream",
  "input_tokens", "output_tokens", "usage_estimated", "price_version", "created_at",
] as const;
const AUDIT_FIELDS = [
  "v", "trace_id", "request_id", "tenant_id", "key_id", "channel", "route", "model", "upstream", "status", "error_code", "error_source",
  "upstream_status", "latency_ms", "config_version", "input_tokens", "output_tokens", "usage_estimated", "cost_micros", "created_at",
] as const;
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
