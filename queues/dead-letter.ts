// Consumer of the dead-letter queues: keeps every message durably in Postgres (table dead_letter) for an
// operator to inspect and replay. While Postgres cannot take them, messages come back on the
// dead-letter schedule (queues/retry-policy.ts: 40 retries over 35 hours by default), and the metrics
// object tracks them so a scrape shows how old the oldest one is. A message whose last delivery still
// fails is sent to its dead-letter queue again, its history kept in the body: never dropped. Only if
// that send fails too is it gone, and then each of its events is logged (fields picked from a fixed
// list, queues/dead-letter-summary.ts: enough to rebuild the row, nothing else) and counted as lost.
import type { Env } from "../src/env";
import { createDb, databaseConfigured } from "../src/db/client";
import { recordDeadLetterOutcome, recordDeadLetters } from "../src/metrics/events";
import { metricsFor } from "../src/objects";
import type { WatchedDeadLetter } from "../durable-objects/gateway-metrics/dead-letter-watch";
import { withTimeout } from "../src/metrics/with-timeout";
import { lostEventSummaries } from "./dead-letter-summary";
import { deadLetterPolicy, retryDelaySeconds, type DeadLetterPolicy } from "./retry-policy";

/** The dead-letter queue binding of each dead-letter queue (to requeue a message that ran out of retries). */
const SELF_BINDING = { "gateway-billing-dlq": "BILLING_DLQ", "gateway-audit-dlq": "AUDIT_DLQ" } as const;
/** A watched dead letter not reported again within twice its delay plus this is dropped from the watch. */
const WATCH_SLACK_SECONDS = 600;
const WATCH_TIMEOUT_MS = 5_000;

/** A dead letter as it travels: what to store, why, and its history across requeues. */
interface Letter {
  message: Message<unknown>;
  /** What the dead_letter row keeps: the original queue message (an event or a pack). */
  body: unknown;
  reason: string;
  /** The first queue message id: the row's key, kept across requeues so a letter is stored once. */
  messageId: string;
  /** When the letter entered the queues (ms). */
  since: number;
  /** How many times it was requeued after running out of retries. */
  requeued: number;
}

/** The wrapper of a requeued letter (and, without the history fields, of an invalid event the ledger consumers refused). */
interface Wrapped {
  reason: string;
  body: unknown;
  message_id?: string;
  since?: number;
  requeued?: number;
}

function letterOf(message: Message<unknown>): Letter {
  const b = message.body as Partial<Wrapped> | null;
  if (typeof b === "object" && b !== null && typeof b.reason === "string") {
    return {
      message,
      body: b.body,
      reason: b.reason,
      messageId: typeof b.message_id === "string" ? b.message_id : message.id,
      since: typeof b.since === "number" ? b.since : message.timestamp.getTime(),
      requeued: typeof b.requeued === "number" ? b.requeued : 0,
    };
  }
  return { message, body: message.body, reason: "retries exhausted", messageId: message.id, since: message.timestamp.getTime(), requeued: 0 };
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const letters = batch.messages.map(letterOf);
  const arrivals = letters.filter((l) => l.message.attempts <= 1 && l.requeued === 0);
  for (const l of arrivals) console.error(JSON.stringify({ level: "error", msg: "dead-lettered message", queue: batch.queue, id: l.messageId, reason: l.reason }));
  recordDeadLetters(env, ctx, batch.queue, arrivals.length);
  if (!databaseConfigured(env)) return keepTrying(batch.queue, letters, env, ctx, "DATABASE_URL not set");
  const { db, dispose } = createDb(env);
  try {
    const policy = deadLetterPolicy(env);
    const rows = letters.map((l) => ({
      queue: batch.queue,
      message_id: l.messageId,
      attempts: l.message.attempts + l.requeued * (policy.maxRetries + 1),
      body: asJson(l.body),
      reason: l.requeued > 0 ? `${l.reason} (requeued ${l.requeued} times after the dead-letter retries ran out)` : l.reason,
    }));
    await db.insertInto("dead_letter").values(rows).onConflict((oc) => oc.columns(["queue", "message_id"]).doNothing()).execute();
    batch.ackAll();
    const watched = letters.filter((l) => l.message.attempts > 1 || l.requeued > 0).map((l) => l.messageId);
    if (watched.length > 0) ctx.waitUntil(tellMetrics(env, (m) => m.forgetDeadLetters(batch.queue, watched)));
  } catch (error) {
    await keepTrying(batch.queue, letters, env, ctx, String(error));
  } finally {
    ctx.waitUntil(dispose());
  }
}

/** Postgres did not take the batch: every letter comes back later, its last delivery requeued. */
async function keepTrying(queue: string, letters: Letter[], env: Env, ctx: ExecutionContext, error: string): Promise<void> {
  const policy = deadLetterPolicy(env);
  const oldest = Math.min(...letters.map((l) => l.since));
  console.error(JSON.stringify({ level: "error", msg: "dead-letter store failed; batch kept for retry", queue, size: letters.length, oldest_age_s: Math.round((Date.now() - oldest) / 1000), error }));
  const now = Date.now();
  const watch: WatchedDeadLetter[] = [];
  const lost: string[] = [];
  for (const l of letters) {
    const delaySeconds = retryDelaySeconds(l.message.attempts, policy);
    if (l.message.attempts <= policy.maxRetries) l.message.retry({ delaySeconds });
    else if (!(await requeue(queue, l, env, policy, delaySeconds))) {
      lost.push(l.messageId);
      continue;
    }
    watch.push({ id: l.messageId, since: l.since, attempts: l.message.attempts, expiresAt: now + (2 * delaySeconds + WATCH_SLACK_SECONDS) * 1000 });
  }
  const requeued = letters.filter((l) => l.message.attempts > policy.maxRetries).length - lost.length;
  recordDeadLetterOutcome(env, ctx, queue, { requeued, lost: lost.length });
  ctx.waitUntil(
    tellMetrics(env, async (m) => {
      if (watch.length > 0) await m.watchDeadLetters(queue, watch);
      if (lost.length > 0) await m.forgetDeadLetters(queue, lost);
    }),
  );
}

/**
 * The last delivery failed: the letter goes back on its own queue as a new message carrying its
 * history, and this one is acked. False when the send failed: the letter is then lost, and logged.
 */
async function requeue(queue: string, l: Letter, env: Env, policy: DeadLetterPolicy, delaySeconds: number): Promise<boolean> {
  const binding = SELF_BINDING[queue as keyof typeof SELF_BINDING];
  const wrapped: Wrapped = { reason: l.reason, body: l.body, message_id: l.messageId, since: l.since, requeued: l.requeued + 1 };
  try {
    if (!binding) throw new Error(`no dead-letter queue binding for ${queue}`);
    await env[binding].send(wrapped, { contentType: "json", delaySeconds });
    l.message.ack();
    console.error(
      JSON.stringify({ level: "error", msg: "dead letter ran out of retries unstored: requeued", queue, message_id: l.messageId, requeued: wrapped.requeued, retries: policy.maxRetries, age_s: Math.round((Date.now() - l.since) / 1000) }),
    );
    return true;
  } catch (error) {
    // Retried anyway: a platform that still has retries left (max_retries above the var) redelivers it.
    l.message.retry({ delaySeconds });
    for (const event of lostEventSummaries(queue, l.body)) {
      console.error(JSON.stringify({ level: "error", msg: "dead letter lost: out of retries, not stored, not requeued", queue, message_id: l.messageId, attempts: l.message.attempts, since: new Date(l.since).toISOString(), event, error: String(error) }));
    }
    return false;
  }
}

/** Metrics never hold up or fail the consumer. */
async function tellMetrics(env: Env, call: (stub: ReturnType<typeof metricsFor>) => Promise<unknown>): Promise<void> {
  try {
    await withTimeout(call(metricsFor(env)), WATCH_TIMEOUT_MS, "dead-letter watch");
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "dead-letter watch update failed", error: String(error) }));
  }
}

/** The stored form of a dead letter's body: a pack arrives as JSON text and is kept as that JSON (not as a quoted string). */
function asJson(body: unknown): string {
  if (typeof body === "string") {
    try {
      JSON.parse(body);
      return body;
    } catch {
      // Plain text: stored as a JSON string below.
    }
  }
  return JSON.stringify(body);
}
