// Routes a queue batch to its consumer by queue name.
import type { Env } from "../src/env";
import { consumeBilling } from "./billing";
import { consumeAudit } from "./audit";
import { consumeDeadLetters } from "./dead-letter";

export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  if (batch.queue.endsWith("-dlq")) return consumeDeadLetters(batch, env, ctx);
  if (batch.queue.startsWith("gateway-billing")) return consumeBilling(batch, env, ctx);
  if (batch.queue.startsWith("gateway-audit")) return consumeAudit(batch, env, ctx);
  console.error(JSON.stringify({ level: "error", msg: "batch from unknown queue", queue: batch.queue }));
  batch.retryAll();
}
