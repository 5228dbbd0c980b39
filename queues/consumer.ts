// What every ledger consumer shares: unpack each message's events, validate each, write the valid ones
// of the whole batch together, ack per message only after the write, retry with exponential back-off
// per message otherwise (queues/retry-policy.ts; the queue moves a message to its dead-letter queue
// after max_retries), and send invalid events straight there.
import type { z } from "zod";
import { recordQueueAcked } from "../src/metrics/events";
import type { Env } from "../src/env";
import { createDb, databaseConfigured } from "../src/db/client";
import type { Database } from "../src/db/schema";
import type { Kysely } from "kysely";
import { eventsOf } from "./messages";
import { ledgerRetryPolicy, retryDelaySeconds } from "./retry-policy";

export interface LedgerConsumer<S extends z.ZodType> {
  name: string;
  schema: S;
  /** Where a message that can never be written goes (its queue's dead-letter queue). */
  deadLetter: (env: Env) => Queue<unknown>;
  /** Writes the batch idempotently; throws when the database (or anything the write needs) cannot take it. */
  write(db: Kysely<Database>, messages: z.output<S>[], env: Env): Promise<void>;
  /** A problem that makes one message unwritable, found before touching the database. */
  problem?(message: z.output<S>): string | undefined;
}

export async function consumeLedgerBatch<S extends z.ZodType>(
  consumer: LedgerConsumer<S>,
  batch: MessageBatch<unknown>,
  env: Env,
  ctx: ExecutionContext,
): Promise<void> {
  // A message is a pack of events or one event (queues/messages.ts). Its valid events are written with
  // the batch's; its invalid ones go to the dead-letter queue one by one; the message is acked once all of
  // its events are written or dead-lettered, and retried whole otherwise (the writes are idempotent).
  const valid: z.output<S>[] = [];
  const writing: Message<unknown>[] = [];
  for (const message of batch.messages) {
    const events = eventsOf(message.body);
    if (!events) {
      await deadLetter(consumer, env, batch.queue, message, message.body, "not an event or a pack of events");
      message.ack();
      continue;
    }
    let kept = 0;
    for (const event of events) {
      const parsed = consumer.schema.safeParse(event);
      const problem = parsed.success ? consumer.problem?.(parsed.data) : parsed.error.issues[0]?.message;
      if (parsed.success && !problem) {
        valid.push(parsed.data);
        kept++;
      } else {
        // Never retried (it cannot succeed) and never dropped: straight to the dead-letter queue.
        await deadLetter(consumer, env, batch.queue, message, event, problem);
      }
    }
    if (kept > 0) writing.push(message);
    else message.ack();
  }
  if (writing.length === 0) return;
  if (!databaseConfigured(env)) {
    console.error(JSON.stringify({ level: "error", msg: "DATABASE_URL not set: ledger batch kept for retry", queue: batch.queue, size: valid.length }));
    retryLater(env, writing);
    return;
  }
  const { db, dispose } = createDb(env);
  try {
    await consumer.write(db, valid, env);
    for (const message of writing) message.ack();
    recordQueueAcked(env, ctx, batch.queue, valid.length);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "ledger write failed; batch retried", queue: batch.queue, size: valid.length, error: String(error) }));
    retryLater(env, writing);
  } finally {
    ctx.waitUntil(dispose());
  }
}

function retryLater(env: Env, messages: readonly Message<unknown>[]): void {
  const policy = ledgerRetryPolicy(env);
  for (const message of messages) message.retry({ delaySeconds: retryDelaySeconds(message.attempts, policy) });
}

async function deadLetter<S extends z.ZodType>(consumer: LedgerConsumer<S>, env: Env, queue: string, message: Message<unknown>, body: unknown, problem: string | undefined): Promise<void> {
  await consumer.deadLetter(env).send({ reason: `invalid ${consumer.name} message: ${problem}`, body }, { contentType: "json" });
  console.error(JSON.stringify({ level: "error", msg: "invalid message dead-lettered", queue, id: message.id, problem }));
}
