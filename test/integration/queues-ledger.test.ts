// The billing and audit consumers against the real test database: idempotent under duplicate and
// out-of-order delivery, per-message ack only after the write, retries while Postgres is down,
// dead letters kept durably, and the whole path from a gateway request to a ledger row.
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { Env } from "../../src/env";
import { consumeAudit } from "../../queues/audit";
import { consumeBilling } from "../../queues/billing";
import { consumeDeadLetters } from "../../queues/dead-letter";
import { retryDelaySeconds } from "../../queues/consumer";
import type { BillingMessage } from "../../queues/messages";
import { mockPresets, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";

const handle = createDb(env);
const db = handle.db;
afterAll(() => handle.dispose());

let seq = 0;
function billingMessage(tenantId: string, requestId: string, amount: number): BillingMessage {
  return {
    v: 1, request_id: requestId, tenant_id: tenantId, key_id: "key_test", channel: "external", kind: "debit",
    amount_micros: -amount, currency: "USD", model: "mock-openai-chat", upstream: "u", input_tokens: 3, output_tokens: 5,
    usage_estimated: false, price_version: 1, created_at: new Date().toISOString(),
  };
}

async function deliver(queue: string, bodies: unknown[], consume: (b: MessageBatch<unknown>, e: Env, c: ExecutionContext) => Promise<void>, targetEnv: Env = env, attempts = 1) {
  const batch = createMessageBatch(queue, bodies.map((body) => ({ id: `m${++seq}`, timestamp: new Date(), attempts, body })));
  const ctx = createExecutionContext();
  await consume(batch, targetEnv, ctx);
  return getQueueResult(batch, ctx);
}

async function ledgerOf(tenantId: string) {
  const row = await db
    .selectFrom("billing_transaction")
    .select([sql<string>`count(*)`.as("rows"), sql<string>`coalesce(sum(amount_micros), 0)`.as("total")])
    .where("tenant_id", "=", tenantId)
    .executeTakeFirstOrThrow();
  return { rows: Number(row.rows), total: BigInt(row.total) };
}

// A deterministic shuffle so a failure can be replayed.
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("billing consumer", { timeout: 60_000 }, () => {
  it("retries back off exponentially: 5, 10, 20 ... seconds, capped at 5 minutes", () => {
    expect([1, 2, 3, 4, 10, 50].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 300, 300]);
  });

  it("10,000 messages, each delivered 1 to 5 times in random order: one row per request id, exact total", { timeout: 120_000 }, async () => {
    const tenantId = `ten_q_${Date.now()}`;
    const messages = Array.from({ length: 10_000 }, (_, i) => billingMessage(tenantId, `req-${i}`, 1 + (i % 997)));
    const expectedTotal = -messages.reduce((sum, m) => sum - BigInt(m.amount_micros), 0n);
    const deliveries = shuffled(messages.flatMap((m, i) => Array.from({ length: 1 + (i % 5) }, () => m)), 42);
    const started = Date.now();
    for (let i = 0; i < deliveries.length; i += 100) {
      const result = await deliver("gateway-billing", deliveries.slice(i, i + 100), consumeBilling);
      expect(result.retryMessages).toEqual([]);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`[figure] billing consumer: ${deliveries.length} deliveries -> 10000 rows in ${seconds.toFixed(2)} s (${Math.round(deliveries.length / seconds)} deliveries/s)`);
    const ledger = await ledgerOf(tenantId);
    expect(ledger.rows).toBe(10_000);
    expect(ledger.total).toBe(expectedTotal);
  });

  it("a crash mid-batch: what was acked is not billed twice, the redelivered rest is billed once", async () => {
    const tenantId = `ten_crash_${Date.now()}`;
    const messages = Array.from({ length: 50 }, (_, i) => billingMessage(tenantId, `c-${i}`, 10));
    // the first 20 were written and acked before the crash; the whole batch comes back
    await deliver("gateway-billing", messages.slice(0, 20), consumeBilling);
    const redelivered = await deliver("gateway-billing", messages, consumeBilling, env, 2);
    expect(redelivered.explicitAcks.length).toBe(50);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 50, total: -500n });
  });

  it("while Postgres is down nothing is acked, everything is retried with back-off, then written", async () => {
    const tenantId = `ten_down_${Date.now()}`;
    const messages = Array.from({ length: 20 }, (_, i) => billingMessage(tenantId, `d-${i}`, 7));
    const down = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" } as Env;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const result = await deliver("gateway-billing", messages, consumeBilling, down, attempt);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages.length).toBe(20);
    }
    expect((await ledgerOf(tenantId)).rows).toBe(0);
    const back = await deliver("gateway-billing", messages, consumeBilling, env, 4);
    expect(back.explicitAcks.length).toBe(20);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 20, total: -140n });
  });

  it("an invalid message goes straight to the dead-letter queue and the rest of the batch is written", async () => {
    const tenantId = `ten_bad_${Date.now()}`;
    const good = billingMessage(tenantId, "good-1", 3);
    const positiveDebit = { ...billingMessage(tenantId, "bad-sign", 3), amount_micros: 3 };
    const result = await deliver("gateway-billing", [good, { nonsense: true }, positiveDebit], consumeBilling);
    expect(result.explicitAcks.length).toBe(3);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 1, total: -3n });
  });

  it("dead letters are kept in Postgres (once per message id) and retried while it is down", async () => {
    const body = billingMessage("ten_dlq", `dlq-${Date.now()}`, 1);
    const down = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" } as Env;
    const failed = await deliver("gateway-billing-dlq", [body], consumeDeadLetters, down, 1);
    expect(failed.retryMessages.length).toBe(1);
    const messageId = `dlq-fixed-${Date.now()}`;
    const batch = createMessageBatch("gateway-billing-dlq", [{ id: messageId, timestamp: new Date(), attempts: 9, body }]);
    for (let i = 0; i < 2; i++) {
      const ctx = createExecutionContext();
      await consumeDeadLetters(batch, env, ctx);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    }
    const rows = await db.selectFrom("dead_letter").selectAll().where("message_id", "=", messageId).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe("retries exhausted");
    expect((rows[0]!.body as BillingMessage).request_id).toBe(body.request_id);
  });
});

describe("from a gateway request to the ledger", { timeout: 30_000 }, () => {
  beforeAll(async () => {
    await mockScenario("q-ledger", {});
    await seedPresets(mockPresets("q-ledger"));
  });

  it("a chat completion is debited once at its real price and audited, through the real queues", async () => {
    const tenant = await seedTenant();
    const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "bill me please" }] }),
    });
    expect(res.status).toBe(200);
    const traceId = res.headers.get("x-trace-id")!;
    const requestId = res.headers.get("x-gateway-request-id")!;
    const usage = ((await res.json()) as any).usage;
    // fixtures price: 1,000,000 micros per million input tokens, 2,000,000 per million output, rounded up per part
    const expected = -(Math.ceil(usage.prompt_tokens * 1) + Math.ceil(usage.completion_tokens * 2));
    let row;
    for (let i = 0; i < 100 && !row; i++) {
      row = await db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst();
      if (!row) await new Promise((r) => setTimeout(r, 100));
    }
    expect(row).toBeDefined();
    expect(BigInt(row!.amount_micros)).toBe(BigInt(expected));
    expect(row!.input_tokens).toBe(usage.prompt_tokens);
    expect(row!.usage_estimated).toBe(false);
    let audit;
    for (let i = 0; i < 100 && !audit; i++) {
      audit = await db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).executeTakeFirst();
      if (!audit) await new Promise((r) => setTimeout(r, 100));
    }
    expect(audit).toMatchObject({ tenant_id: tenant.tenantId, status: 200, channel: "external", model: "mock-openai-chat", trace_id: traceId });
    // the TenantGuard settled the hold at the same price
    const guard = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId));
    const snapshot = await guard.snapshot();
    expect(snapshot.openHolds).toBe(0);
    expect(snapshot.balanceMicros).toBe(10_000_000 + expected);
  });

  it("two requests that reuse one client-chosen x-request-id are two holds, two debits and two audit rows", async () => {
    const tenant = await seedTenant();
    const send = () =>
      SELF.fetch("https://gw.test/external/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json", "x-request-id": "reused-request-id-1" },
        body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "same id twice" }] }),
      });
    const [a, b] = await Promise.all([send(), send()]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get("x-trace-id")).toBe("reused-request-id-1");
    const ids = [a.headers.get("x-gateway-request-id")!, b.headers.get("x-gateway-request-id")!];
    expect(ids[0]).not.toBe(ids[1]);
    let rows: unknown[] = [];
    for (let i = 0; i < 100 && rows.length < 2; i++) {
      rows = await db.selectFrom("billing_transaction").select("request_id").where("tenant_id", "=", tenant.tenantId).where("kind", "=", "debit").execute();
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(2);
    const audits = await db.selectFrom("audit_log").select("request_id").where("trace_id", "=", "reused-request-id-1").where("tenant_id", "=", tenant.tenantId).execute();
    for (let i = 0; i < 50 && audits.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    expect(snapshot.openHolds).toBe(0);
    expect(snapshot.balanceMicros).toBeLessThan(10_000_000);
  });
});
