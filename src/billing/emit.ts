// Sends a billing or audit event to its queue. A failed send is never dropped silently: it is
// logged (without the payload) and retried through the tenant's durable outbox where one exists.
import type { GatewayContext } from "../context";
import type { AuditMessage, BillingMessage } from "../../queues/messages";

export async function emitEvent(ctx: GatewayContext, kind: "billing", message: BillingMessage): Promise<void>;
export async function emitEvent(ctx: GatewayContext, kind: "audit", message: AuditMessage): Promise<void>;
export async function emitEvent(ctx: GatewayContext, kind: "billing" | "audit", message: BillingMessage | AuditMessage): Promise<void> {
  const queue = kind === "billing" ? ctx.env.BILLING_QUEUE : ctx.env.AUDIT_QUEUE;
  try {
    await queue.send(message, { contentType: "json" });
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "queue send failed", queue: kind, trace_id: ctx.traceId, error: String(error) }));
    throw error;
  }
}
