// What every ledger consumer shares: validate each message, write the valid ones in one statement,
// ack per message only after the write, retry with exponential back-off otherwise (the queue moves
// a message to its dead-letter queue after max_retries), and send invalid messages straight there.
import type { z } from "zod";
import { recordQueueAcked } from "../src/metrics/events";
import type { Env } from "../src/env";
import { createDb, databaseConfigured } from "../src/db/client";
import type { Database } from "../src/db/schema";
import type { Kysely } from "kysely";

/** Seconds before redelivery after `attempts` failed deliveries: 5, 10, 20 ... capped at 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));
}

export interface LedgerConsumer<S extends z.ZodType> {
  name: string;
  schema: S;
  /** Where a message that can never be written goes (its queue's dead-letter queue). */
  deadLetter: (env: Env) => Queue<unknown>;
  /** Writes the batch idempotently; throws when the database cannot take it. */
  write(db: Kysely<Database>, messages: z.output<S>[]): Promise<void>;
  /** A problem that makes one message unwritable, found before touching the database. */
  problem?(message: z.output<S>): string | undefined;
}

export async function consumeLedgerBatch<S extends z.ZodType>(
  consumer: LedgerConsumer<S>,
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  const valid: { message: Message<unknown>; body: z.output<S> }[] = [];
  for (const message of batch.messages) {
    const parsed = consumer.schema.safeParse(message.body);
    const problem = parsed.success ? consumer.problem?.(parsed.data) : parsed.error.issues[0]?.message;
    if (parsed.success && !problem) {
      valid.push({ message, body: parsed.data });
      continue;
    }
    // Never retried (it cannot succeed) and never dropped: straight to the dead-letter queue.
    await consumer.deadLetter(env).send({ reason: `invalid ${consumer.name} message: ${problem}`, body: message.body }, { contentType: "json" });
    console.error(JSON.stringify({ level: "error", msg: "invalid message dead-lettered", queue: batch.queue, id: message.id, problem }));
    message.ack();
  }
  if (valid.length === 0) return;
  if (!databaseConfigured(env)) {
    console.error(JSON.stringify({ level: "error", msg: "DATABASE_URL not set: ledger batch kept for retry", queue: batch.queue, size: valid.length }));
    for (const { message } of valid) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    return;
  }
  const { db, dispose } = createDb(env);
  try {
    await consumer.write(db, valid.map((v) => v.body));
    for (const { message } of valid) message.ack();
    recordQueueAcked(env, ctx, batch.queue, valid.length);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "ledger write failed; batch retried", queue: batch.queue, size: valid.length, error: String(error) }));
    for (const { message } of valid) message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  } finally {
    ctx.waitUntil(dispose());
  }
}
