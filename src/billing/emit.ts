// Sends billing and audit events to their queues, never losing one: requests' events are gathered per
// isolate for a short window and leave as packs (many events per queue message, queues/messages.ts) in
// one sendBatch; a failed send hands each of its events to its owner's TenantGuard outbox (durable,
// drained by its alarm until sent); if even that fails, one error line with the request id (never the
// payload) is the last resort. Runs in waitUntil, off the hot path.
import { guardFor } from "../objects";
import { recordQueueSent } from "../metrics/events";
import type { Env } from "../env";
import type { OutboxKind } from "../guard/types";
import { packText, utf8Length, type AuditMessage, type BillingMessage } from "../../queues/messages";

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
/** A window this full is sent at once by the request that filled it (bounds memory and delay under load). */
export const MAX_BUFFERED_EVENTS = 500;
/**
 * Bytes of event JSON per pack: a queue message may hold 128 KB and is billed per 64 KB, so a pack
 * stays within one billing unit. A single event larger than this travels alone.
 */
export const MAX_PACK_BYTES = 63 * 1024;
/** Packs per sendBatch: its limit is 256 KB (and 100 messages) in all. */
export const PACKS_PER_SEND = 3;

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
 * Emits an event: with an execution context (every request), gathered per isolate for SEND_WINDOW_MS
 * and sent in packs; without one, sent at once as a message of its own. Either way a failed send goes
 * to the owner's outbox.
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
  if (buffer.length >= MAX_BUFFERED_EVENTS) {
    // Full: this request sends it now; the window's owner will find it already gone.
    buffers.delete(queue);
    exec.waitUntil(sendBuffered(queue, buffer));
  }
}

async function sendBuffered(queue: Queue<unknown>, items: Buffered[]): Promise<void> {
  if (buffers.get(queue) === items) buffers.delete(queue);
  if (items.length === 0 || sent.has(items)) return;
  sent.add(items);
  const packs = packsOf(items);
  for (let i = 0; i < packs.length; i += PACKS_PER_SEND) {
    const group = packs.slice(i, i + PACKS_PER_SEND);
    const events = group.flatMap((p) => p.items);
    const first = events[0]!;
    try {
      await queue.sendBatch(group.map((p) => ({ body: p.text, contentType: "text" as const })));
      if (first.ctx.exec) recordQueueSent(first.ctx.env, first.ctx.exec, first.kind === "billing" ? "gateway-billing" : "gateway-audit", events.length);
    } catch (error) {
      console.warn(JSON.stringify({ level: "warn", msg: "queue batch send failed; events kept in the outbox", queue: first.kind, size: events.length, error: String(error) }));
      await Promise.all(events.map((e) => keepInOutbox(e.ctx, e.kind, e.message)));
    }
  }
}

interface Pack {
  items: Buffered[];
  text: string;
}

/** Groups events, serialized once, into packs of at most MAX_PACK_BYTES of event JSON each. */
function packsOf(items: readonly Buffered[]): Pack[] {
  const packs: Pack[] = [];
  let members: Buffered[] = [];
  let texts: string[] = [];
  let bytes = 0;
  const close = () => {
    if (members.length > 0) packs.push({ items: members, text: packText(texts) });
    members = [];
    texts = [];
    bytes = 0;
  };
  for (const item of items) {
    const text = JSON.stringify(item.message);
    const size = utf8Length(text) + 1;
    if (bytes + size > MAX_PACK_BYTES) close();
    members.push(item);
    texts.push(text);
    bytes += size;
  }
  close();
  return packs;
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
    const guard = guardFor(ctx.env, owner);
    await guard.outboxPut(kind, message);
    return "outbox";
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "event lost: queue send and outbox both failed", queue: kind, request_id: message.request_id, trace_id: ctx.traceId, error: String(error) }));
    return "lost";
  }
}
