// Sends a billing or audit event to its queue, never losing it: a failed send hands the event to the
// owner's TenantGuard outbox (durable, drained by its alarm until sent); if even that fails, one error
// line with the request id (never the payload) is the last resort. Runs in waitUntil, off the hot path.
import { recordQueueSent } from "../metrics/events";
import type { Env } from "../env";
import type { OutboxKind } from "../guard/types";
import type { AuditMessage, BillingMessage } from "../../queues/messages";

/** The Durable Object that keeps events attributed to no tenant (e.g. a request refused before authentication). */
export const UNATTRIBUTED_OUTBOX = "~gateway-outbox";

/** What emitEvent needs: a GatewayContext is one; tests pass an env whose queue fails. */
export interface EmitContext {
  readonly env: Env;
  /** When given, sends are counted for the queue-backlog metric. */
  readonly exec?: ExecutionContext;
  readonly traceId: string;
}

/** "sent": on the queue; "outbox": held durably, sent later; "lost": both failed (logged). */
export type EmitResult = "sent" | "outbox" | "lost";

export async function emitEvent(ctx: EmitContext, kind: "billing", message: BillingMessage): Promise<void>;
export async function emitEvent(ctx: EmitContext, kind: "audit", message: AuditMessage): Promise<void>;
export async function emitEvent(ctx: EmitContext, kind: OutboxKind, message: BillingMessage | AuditMessage): Promise<void> {
  await emitDurably(ctx, kind, message);
}

/** emitEvent, saying where the event went. */
export async function emitDurably(ctx: EmitContext, kind: OutboxKind, message: BillingMessage | AuditMessage): Promise<EmitResult> {
  const queue = kind === "billing" ? ctx.env.BILLING_QUEUE : ctx.env.AUDIT_QUEUE;
  try {
    await queue.send(message, { contentType: "json" });
    if (ctx.exec) recordQueueSent(ctx.env, ctx.exec, kind === "billing" ? "gateway-billing" : "gateway-audit");
    return "sent";
  } catch (error) {
    console.warn(JSON.stringify({ level: "warn", msg: "queue send failed; event kept in the outbox", queue: kind, request_id: message.request_id, trace_id: ctx.traceId, error: String(error) }));
  }
  // Service traffic has the service id as tenant id, so every event with an owner has a guard to keep it.
  const owner = message.tenant_id ?? UNATTRIBUTED_OUTBOX;
  try {
    const guard = ctx.env.TENANT_GUARD.get(ctx.env.TENANT_GUARD.idFromName(owner));
    await guard.outboxPut(kind, message);
    return "outbox";
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "event lost: queue send and outbox both failed", queue: kind, request_id: message.request_id, trace_id: ctx.traceId, error: String(error) }));
    return "lost";
  }
}
