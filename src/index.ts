// Worker entry: HTTP (the Hono app), queue consumers, cron; re-exports the Durable Object classes.
import { buildApp } from "./app";
import type { Env } from "./env";
import { handleQueueBatch } from "../queues/dispatch";
import { handleScheduled } from "./scheduled";

export { TenantGuard } from "../durable-objects/tenant-guard";
export { UpstreamHealth } from "../durable-objects/upstream-health";
export { GatewayMetrics } from "../durable-objects/gateway-metrics";
export { GlobalLimiter } from "../durable-objects/global-limiter";
export { BanditStats } from "../durable-objects/bandit-stats";
export { AdminAccess } from "../durable-objects/admin-access";
export { BatchJob } from "../durable-objects/batch-job";

const app = buildApp();

export default {
  fetch: app.fetch,
  queue: handleQueueBatch,
  scheduled: handleScheduled,
} satisfies ExportedHandler<Env>;
