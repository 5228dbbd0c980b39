// With the ledger database unreachable, every path that opens a database handle (tenant and admin
// ledger routes, readiness, metrics, queue consumers, cron jobs) answers or retries as designed AND
// leaves no uncaught exception in workerd: on Workers one thrown from a driver's timer inside waitUntil
// is logged as an error and can cut the invocation's other work short.
import { createExecutionContext, createMessageBatch, createScheduledController, env, getQueueResult, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import type { Env } from "../../src/env";
import { CRON_DAILY, handleScheduled } from "../../src/scheduled";
import { consumeBilling } from "../../queues/billing";
import { consumeDeadLetters } from "../../queues/dead-letter";
import { seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { uncaughtDuring } from "../fixtures/runtime-log";
import { ADMIN_TOKEN } from "./admin-helpers";

// An endpoint that accepts the driver's WebSocket and hangs up at once (test/setup/hang-up-db.mjs): what a
// client meets when Postgres, or Neon's proxy in front of it, goes away.
const down = { ...env, DATABASE_URL: "postgres://nobody@db.test:5432/none", DB_WS_PROXY: env.TEST_HANG_UP_DB_PROXY } as Env;
let tenant: SeededKey;
let serviceToken: string;

beforeAll(async () => {
  tenant = await seedTenant({ balanceMicros: 0 });
  serviceToken = (await seedService({ operations: true })).token;
});

async function request(path: string, token: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await buildApp().fetch(new Request(`https://gw.test${path}`, { headers: { authorization: `Bearer ${token}` } }), down, ctx);
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res;
}

function billingMessage(requestId: string) {
  return {
    v: 1, request_id: requestId, tenant_id: tenant.tenantId, key_id: tenant.keyId, channel: "external", kind: "debit",
    amount_micros: -5, currency: "USD", model: "mock-openai-chat", upstream: "u", input_tokens: 1, output_tokens: 1,
    usage_estimated: false, price_version: 1, created_at: new Date().toISOString(),
  };
}

async function deliver(queue: string, consume: (b: MessageBatch<unknown>, e: Env, c: ExecutionContext) => Promise<void>, body: unknown) {
  const batch = createMessageBatch(queue, [{ id: `down-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await consume(batch, down, ctx);
  return getQueueResult(batch, ctx);
}

describe("with the ledger database down, no uncaught exception in workerd", () => {
  it("tenant audit and usage routes: 503 with the error body", async () => {
    const statuses: number[] = [];
    const uncaught = await uncaughtDuring(async () => {
      for (const path of ["/external/v1/audit", "/external/v1/usage"]) statuses.push((await request(path, tenant.apiKey)).status);
    });
    expect(statuses).toEqual([503, 503]);
    expect(uncaught).toEqual([]);
  });

  it("admin ledger routes (list, usage, export): 503", async () => {
    const statuses: number[] = [];
    const uncaught = await uncaughtDuring(async () => {
      for (const path of ["audit", "usage", `audit/export?from=${new Date(Date.now() - 86_400_000).toISOString()}&to=${new Date().toISOString()}`]) {
        statuses.push((await request(`/admin/v1/tenants/${tenant.tenantId}/${path}`, ADMIN_TOKEN)).status);
      }
    });
    expect(statuses).toEqual([503, 503, 503]);
    expect(uncaught).toEqual([]);
  });

  it("readiness says the database check failed; the metrics scrape still answers", async () => {
    const statuses: number[] = [];
    const uncaught = await uncaughtDuring(async () => {
      for (const path of ["/internal/v1/health", "/internal/v1/metrics"]) statuses.push((await request(path, serviceToken)).status);
    });
    expect(statuses).toEqual([503, 200]);
    expect(uncaught).toEqual([]);
  });

  it("billing and dead-letter consumers retry the batch", async () => {
    const retried: number[] = [];
    const uncaught = await uncaughtDuring(async () => {
      retried.push((await deliver("gateway-billing", consumeBilling, billingMessage(`down-${Date.now()}`))).retryMessages.length);
      retried.push((await deliver("gateway-billing-dlq", consumeDeadLetters, billingMessage(`down-dlq-${Date.now()}`))).retryMessages.length);
    });
    expect(retried).toEqual([1, 1]);
    expect(uncaught).toEqual([]);
  });

  it("the daily jobs fail (and say which)", async () => {
    let failure: unknown;
    const uncaught = await uncaughtDuring(async () => {
      failure = await handleScheduled(createScheduledController({ cron: CRON_DAILY, scheduledTime: Date.now() }), down, createExecutionContext()).catch((e: unknown) => e);
    });
    expect(String(failure)).toMatch(/audit_purge/);
    expect(uncaught).toEqual([]);
  });
});
