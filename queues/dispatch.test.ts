// Queue batches reach their consumer by the environment's exact queue names: a staging dead-letter queue
// (`gateway-billing-dlq-staging`, which starts with `gateway-billing`) reaches the dead-letter consumer and is
// stored under its logical name, and a queue the environment does not consume is retried, never consumed.
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import type { Env } from "../src/env";
import { handleQueueBatch } from "./dispatch";
import { logicalQueueOf } from "./queue-names";

const handle = createDb(env);
afterAll(() => handle.dispose());

function billingEvent(requestId: string) {
  return {
    v: 1, request_id: requestId, tenant_id: "ten_dispatch", key_id: "key_test", channel: "external", kind: "debit",
    amount_micros: -7, currency: "USD", model: "mock-openai-chat", upstream: "u", input_tokens: 3, output_tokens: 5,
    usage_estimated: false, price_version: 1, created_at: new Date().toISOString(),
  };
}

async function dispatch(queue: string, id: string, body: unknown, environment: string) {
  const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await handleQueueBatch(batch, { ...env, ENVIRONMENT: environment } as Env, ctx);
  return getQueueResult(batch, ctx);
}

describe("queue dispatch", () => {
  it("maps exact names only: a staging dead-letter queue is a dead-letter queue, never the billing queue", () => {
    expect(logicalQueueOf("staging", "gateway-billing-dlq-staging")).toBe("gateway-billing-dlq");
    expect(logicalQueueOf("staging", "gateway-billing-staging")).toBe("gateway-billing");
    expect(logicalQueueOf("production", "gateway-billing-dlq")).toBe("gateway-billing-dlq");
    // Another environment's queues, near misses and inherited property names are nobody's.
    for (const [environment, queue] of [
      ["production", "gateway-billing-dlq-staging"], ["staging", "gateway-billing"], ["production", "gateway-billing-2"],
      ["production", "constructor"], ["production", "__proto__"], ["preview", "gateway-billing"], ["constructor", "gateway-billing"],
    ] as const) {
      expect(logicalQueueOf(environment, queue), `${environment} ${queue}`).toBeUndefined();
    }
  });

  it("stores a dead letter from gateway-billing-dlq-staging under its logical queue, and bills nothing", async () => {
    const requestId = `dispatch-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const messageId = `m-${requestId}`;
    const result = await dispatch("gateway-billing-dlq-staging", messageId, billingEvent(requestId), "staging");
    expect(result.ackAll).toBe(true);
    const rows = await handle.db.selectFrom("dead_letter").select(["queue", "reason"]).where("message_id", "=", messageId).execute();
    expect(rows).toEqual([{ queue: "gateway-billing-dlq", reason: "retries exhausted" }]);
    const billed = await handle.db.selectFrom("billing_transaction").select("request_id").where("request_id", "=", requestId).execute();
    expect(billed).toEqual([]);
  });

  it("retries a batch from a queue this environment does not consume (another environment's queue)", async () => {
    const requestId = `dispatch-foreign-${Date.now()}`;
    const result = await dispatch("gateway-billing-dlq-staging", `m-${requestId}`, billingEvent(requestId), "production");
    expect(result.retryBatch.retry).toBe(true);
    expect(result.ackAll).toBe(false);
    expect(result.explicitAcks).toEqual([]);
    const billed = await handle.db.selectFrom("billing_transaction").select("request_id").where("request_id", "=", requestId).execute();
    expect(billed).toEqual([]);
  });
});
