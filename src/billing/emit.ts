// Sends billing and audit events to their queues, never losing one: requests' events are gathered per
// isolate into one sendBatch per short window; a failed send hands each event to its owner's TenantGuard
// outbox (durable, drained by its alarm until sent); if even that fails, one error line with the request
// id (never the payload) is the last resort. Runs in waitUntil, off the hot path.
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

/** How long an isolate gathers events before one sendBatch; the window is owned by the first event's waitUntil. */
export const SEND_WINDOW_MS = 20;
/** Cloudflare Queues take at most 100 messages per sendBatch. */
export const MAX_SEND_BATCH = 100;

interface Buffered {
  ctx: EmitContext;
  kind: OutboxKind;
  message: BillingMessage | AuditMessage;
}

// Events waiting for their batch, per queue binding. No promise crosses requests: a request only adds
// its event; the request that opened the window sends the batch (and keeps each event durable on failure).
const buffers = new Map<Queue<unknown>, Buffered[]>();
// Batches already sent (a full batch is sent by the request that filled it; its window owner finds it here).
const sent = new WeakSet<Buffered[]>();

function queueOf(ctx: EmitContext, kind: OutboxKind): Queue<unknown> {
  return kind === "billing" ? ctx.env.BILLING_QUEUE : ctx.env.AUDIT_QUEUE;
}

/**
 * Emits an event: with an execution context (every request), batched per isolate for SEND_WINDOW_MS
 * into one sendBatch; without one, sent at once. Either way a failed send goes to the owner's outbox.
 */
export async function emitEvent(ctx: EmitContext, kind: "billing", message: BillingMessage): Promise<void>;
export async function emitEvent(ctx: EmitContext, kind: "audit", message: AuditMessage): Promise<void>;
export async function emitEvent(ctx: EmitContext, kind: OutboxKind, message: BillingMessage | AuditMessage): Promise<void> {
  const exec = ctx.exec;
  if (!exec) {
    await emitDurably(ctx, kind, message);
    return;
  }
  const queue = queueOf(ctx, kind);
  let buffer = buffers.get(queue);
  if (!buffer) {
    buffer = [];
    buffers.set(queue, buffer);
    const opened = buffer;
    exec.waitUntil(new Promise((resolve) => setTimeout(resolve, SEND_WINDOW_MS)).then(() => sendBuffered(queue, opened)));
  }
  buffer.push({ ctx, kind, message });
  if (buffer.length >= MAX_SEND_BATCH) {
    // Full: this request sends it now; the window's owner will find it already gone.
    buffers.delete(queue);
    exec.waitUntil(sendBuffered(queue, buffer));
  }
}

async function sendBuffered(queue: Queue<unknown>, items: Buffered[]): Promise<void> {
  if (buffers.get(queue) === items) buffers.delete(queue);
  if (items.length === 0 || sent.has(items)) return;
  sent.add(items);
  const first = items[0]!;
  try {
    await queue.sendBatch(items.map((i) => ({ body: i.message, contentType: "json" as const })));
    if (first.ctx.exec) recordQueueSent(first.ctx.env, first.ctx.exec, first.kind === "billing" ? "gateway-billing" : "gateway-audit", items.length);
  } catch (error) {
    console.warn(JSON.stringify({ level: "warn", msg: "queue batch send failed; events kept in the outbox", queue: first.kind, size: items.length, error: String(error) }));
    await Promise.all(items.map((i) => keepInOutbox(i.ctx, i.kind, i.message)));
  }
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
  return keepInOutbox(ctx, kind, message);
}

/** The durable fallback: the owner's TenantGuard keeps the event and its alarm sends it later. */
async function keepInOutbox(ctx: EmitContext, kind: OutboxKind, message: BillingMessage | AuditMessage): Promise<EmitResult> {
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
