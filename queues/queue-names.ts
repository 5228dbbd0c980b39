// Which consumer each queue's batches go to, per deployed environment, by exact queue name: never by a
// name pattern (a staging queue such as `gateway-billing-dlq-staging` starts with `gateway-billing`, and a
// prefix rule once sent its dead letters to the billing consumer). Every consumer sees the queue's
// logical name (production's), so dead_letter rows, metric labels and alerts read the same everywhere.
// scripts/wrangler-environments.test.ts checks this table against every environment in wrangler.toml.

/** The logical queues: production's names, and what the code, the dead_letter table and the metrics use. */
export const LOGICAL_QUEUES = ["gateway-billing", "gateway-audit", "gateway-billing-dlq", "gateway-audit-dlq", "gateway-batch", "gateway-batch-dlq"] as const;
export type LogicalQueue = (typeof LOGICAL_QUEUES)[number];

type QueueNames = Readonly<Record<string, LogicalQueue>>;

/** Production and the local configuration (the top level of wrangler.toml) use the logical names themselves. */
const SAME_NAMES: QueueNames = Object.fromEntries(LOGICAL_QUEUES.map((q) => [q, q]));

/** ENVIRONMENT (a var of each wrangler.toml environment) -> its queue names -> the logical queue. */
export const QUEUE_NAMES_BY_ENVIRONMENT: Readonly<Record<string, QueueNames>> = {
  production: SAME_NAMES,
  staging: {
    "gateway-billing-staging": "gateway-billing",
    "gateway-audit-staging": "gateway-audit",
    "gateway-billing-dlq-staging": "gateway-billing-dlq",
    "gateway-audit-dlq-staging": "gateway-audit-dlq",
    "gateway-batch-staging": "gateway-batch",
    "gateway-batch-dlq-staging": "gateway-batch-dlq",
  },
  development: SAME_NAMES,
  test: SAME_NAMES,
};

/** The logical queue of a batch's queue in this environment; undefined for a queue this environment does not consume. */
export function logicalQueueOf(environment: string, queue: string): LogicalQueue | undefined {
  const names = Object.hasOwn(QUEUE_NAMES_BY_ENVIRONMENT, environment) ? QUEUE_NAMES_BY_ENVIRONMENT[environment]! : undefined;
  return names && Object.hasOwn(names, queue) ? names[queue] : undefined;
}
