// zod schemas of the messages carried by the billing and audit queues (the contract between the
// Worker that produces them and the consumers that write the ledger).
import { z } from "zod";

export const BillingMessageSchema = z.object({
  v: z.literal(1),
  /** Idempotency key of the ledger row: one debit per request id. */
  request_id: z.string().min(1),
  tenant_id: z.string().min(1),
  key_id: z.string().min(1),
  channel: z.enum(["external", "internal"]),
  kind: z.enum(["debit", "credit", "refund", "adjustment"]),
  /** Integer micro-units, signed from the tenant's balance point of view: debits <= 0, credits and refunds > 0. */
  amount_micros: z.number().int(),
  currency: z.string().length(3),
  model: z.string().nullable(),
  upstream: z.string().nullable(),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  usage_estimated: z.boolean(),
  price_version: z.number().int().nullable(),
  /** Conditions the ledger row records (meta.flags), e.g. hold_expired, over_reservation, correction. */
  flags: z.array(z.string()).optional(),
  /** A correcting row: the request id whose charge it corrects (this row's own request_id differs). */
  corrects: z.string().optional(),
  /** Micro-units the real cost exceeded what could be charged (the balance never goes below zero through a hold). */
  uncollected_micros: z.number().int().nonnegative().optional(),
  /**
   * Served unheld (the guard unreachable, balance policy open) and not yet charged in the TenantGuard: the
   * consumer charges it there (idempotently) before writing the row, so the two books agree.
   */
  guard_pending: z.boolean().optional(),
  /** The batch a batch line belongs to (src/pipeline/run-batch-line.ts). */
  batch_id: z.string().min(1).max(64).optional(),
  created_at: z.string(),
});
export type BillingMessage = z.infer<typeof BillingMessageSchema>;

export const AuditMessageSchema = z.object({
  v: z.literal(1),
  trace_id: z.string().min(1),
  /** The gateway's own id for this request: one audit row per request id. */
  request_id: z.string().min(1),
  tenant_id: z.string().nullable(),
  key_id: z.string().nullable(),
  /** "admin": a write through the admin API (actor, action and resource id in `meta`). */
  channel: z.enum(["external", "internal", "admin"]),
  route: z.string(),
  model: z.string().nullable(),
  upstream: z.string().nullable(),
  status: z.number().int(),
  error_code: z.string().nullable(),
  error_source: z.enum(["client", "gateway", "upstream"]).nullable(),
  upstream_status: z.number().int().nullable(),
  latency_ms: z.number().int().nonnegative(),
  step_timings: z.array(z.object({ name: z.string(), status: z.string(), duration_ms: z.number(), attempts: z.number().int() })),
  config_version: z.number().int().nullable(),
  flags: z.array(z.string()),
  input_tokens: z.number().int().nullable(),
  output_tokens: z.number().int().nullable(),
  usage_estimated: z.boolean().nullable(),
  cost_micros: z.number().int().nullable(),
  meta: z.record(z.string(), z.unknown()),
  /** The batch a batch line belongs to. */
  batch_id: z.string().min(1).max(64).optional(),
  created_at: z.string(),
});
export type AuditMessage = z.infer<typeof AuditMessageSchema>;

/**
 * A pack: the events one isolate gathered in a send window, in one queue message as JSON text
 * (`{"v":1,"events":[…]}`). Many events per message keep the queue's message rate (5,000 a second per
 * queue) and the consumers' per-message cost far below the request rate. The consumers also take a
 * single event as a message (the outbox's sends, admin events, replays from the dead-letter table).
 */
export const PACK_PREFIX = '{"v":1,"events":[';

/** Builds a pack's text from events already serialized as JSON. */
export function packText(serializedEvents: readonly string[]): string {
  return `${PACK_PREFIX}${serializedEvents.join(",")}]}`;
}

/** The events a queue message carries: a pack's (text or parsed), or the message itself; undefined if it is neither. */
export function eventsOf(body: unknown): unknown[] | undefined {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const events = (value as { events?: unknown }).events;
  if (!("events" in value)) return [value];
  return Array.isArray(events) && events.length > 0 ? events : undefined;
}

/** UTF-8 length of a string (queue limits are in bytes; event JSON is nearly always ASCII). */
export function utf8Length(text: string): number {
  if (!/[^\x00-\x7f]/.test(text)) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
