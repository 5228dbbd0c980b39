// What the error log keeps of a dead letter that is gone: per event, the fields an operator needs to
// rebuild its ledger or audit row, picked by name from a fixed list (scalars and lists of strings only),
// so nothing else a message might carry reaches the log. A billing event's list is its schema's fields
// (none of them secret), so the logged event can be replayed as it is; an audit event's leaves out its
// free-form meta and step timings.
import { BillingMessageSchema, eventsOf } from "./messages";

const BILLING_FIELDS = Object.keys(BillingMessageSchema.shape);
const AUDIT_FIELDS = [
  "v", "trace_id", "request_id", "tenant_id", "key_id", "channel", "route", "model", "upstream", "status", "error_code", "error_source",
  "upstream_status", "latency_ms", "config_version", "input_tokens", "output_tokens", "usage_estimated", "cost_micros", "created_at",
] as const;
/** Longer than any id the ledger accepts (255), so a logged event stays replayable. */
const MAX_TEXT = 256;

export type EventSummary = Record<string, string | number | boolean | null | string[]>;

function pick(event: unknown, fields: readonly string[]): EventSummary {
  if (typeof event !== "object" || event === null) return { unreadable: true };
  const out: EventSummary = {};
  for (const field of fields) {
    const value = (event as Record<string, unknown>)[field];
    if (typeof value === "string") out[field] = value.slice(0, MAX_TEXT);
    else if (typeof value === "number" || typeof value === "boolean" || value === null) out[field] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) out[field] = value.map((v) => v.slice(0, MAX_TEXT));
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
