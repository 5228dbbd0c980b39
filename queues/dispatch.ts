// Routes a queue batch to its consumer by the environment's table of queue names (queues/queue-names.ts).
import type { Env } from "../src/env";
import { settingsOf } from "../src/env";
import { consumeBilling } from "./billing";
import { consumeAudit } from "./audit";
import { consumeDeadLetters } from "./dead-letter";
import { consumeBatchDeadLetters, consumeBatchLines } from "./batch-lines";
import { logicalQueueOf, type LogicalQueue } from "./queue-names";

type Consume = (batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext) => Promise<void>;

const CONSUMERS: Record<LogicalQueue, Consume> = {
  "gateway-billing": consumeBilling,
  "gateway-audit": consumeAudit,
  "gateway-billing-dlq": consumeDeadLetters,
  "gateway-audit-dlq": consumeDeadLetters,
  "gateway-batch": consumeBatchLines,
  "gateway-batch-dlq": consumeBatchDeadLetters,
};

export async function handleQueueBatch(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const environment = settingsOf(env).environment;
  const logical = logicalQueueOf(environment, batch.queue);
  if (!logical) {
    // Retried, never acked: a queue missing from the table is a configuration mistake to fix, not data to drop.
    console.error(JSON.stringify({ level: "error", msg: "batch from a queue this environment does not consume", queue: batch.queue, environment }));
    batch.retryAll();
    return;
  }
  return CONSUMERS[logical](logical === batch.queue ? batch : underLogicalName(batch, logical), env, ctx);
}

/** The same batch (acks and retries go to the platform's) under its logical queue name. */
function underLogicalName(batch: MessageBatch<unknown>, queue: LogicalQueue): MessageBatch<unknown> {
  return {
    queue,
    messages: batch.messages,
    metadata: batch.metadata,
    ackAll: () => batch.ackAll(),
    retryAll: (options?: QueueRetryOptions) => batch.retryAll(options),
  };
}
