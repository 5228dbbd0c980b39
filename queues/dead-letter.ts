// Consumer of the dead-letter queues: keeps every message durably in Postgres (table dead_letter)
// for an operator to inspect and replay, and logs it so the "dead-letter queue not empty" alert
// fires. If the database is down the message is retried, never acked unwritten.
import type { Env } from "../src/env";
import { createDb, databaseConfigured } from "../src/db/client";
import { retryDelaySeconds } from "./consumer";
import { recordDeadLetters } from "../src/metrics/events";

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  for (const message of batch.messages) {
    console.error(JSON.stringify({ level: "error", msg: "dead-lettered message", queue: batch.queue, id: message.id, attempts: message.attempts }));
  }
  recordDeadLetters(env, ctx, batch);
  if (!databaseConfigured(env)) return batch.retryAll({ delaySeconds: 60 });
  const { db, dispose } = createDb(env);
  try {
    const rows = batch.messages.map((m) => {
      const body = m.body as { reason?: unknown; body?: unknown } | null;
      const explicit = typeof body === "object" && body !== null && typeof body.reason === "string";
      return {
        queue: batch.queue,
        message_id: m.id,
        attempts: m.attempts,
        body: asJson(explicit ? body.body : m.body),
        reason: explicit ? (body.reason as string) : "retries exhausted",
      };
    });
    await db.insertInto("dead_letter").values(rows).onConflict((oc) => oc.columns(["queue", "message_id"]).doNothing()).execute();
    batch.ackAll();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "dead-letter write failed", queue: batch.queue, error: String(error) }));
    for (const m of batch.messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
  } finally {
    ctx.waitUntil(dispose());
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
