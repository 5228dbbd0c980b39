// The billing and audit consumers against the real test database: idempotent under duplicate and
// out-of-order delivery, per-message ack only after the write, retries while Postgres is down,
// dead letters kept durably, and the whole path from a gateway request to a ledger row.
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import type { Env } from "../../src/env";
import { consumeAudit } from "../../queues/audit";
import { consumeBilling } from "../../queues/billing";
import { consumeDeadLetters } from "../../queues/dead-letter";
import { retryDelaySeconds } from "../../queues/retry-policy";
import { packText, type BillingMessage } from "../../queues/messages";
import { queuesDrained } from "../fixtures/queues";
import { waitFor } from "../fixtures/wait";
import { mockPresets, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";
import { admin, call } from "./admin-helpers";

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
    expect([1, 2, 3, 4, 10, 50].map((n) => retryDelaySeconds(n))).toEqual([5, 10, 20, 40, 300, 300]);
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

  it("a pack carries many events: each is written once; its invalid events are dead-lettered, its valid ones written", async () => {
    const tenantId = `ten_pack_${Date.now()}`;
    const events = Array.from({ length: 300 }, (_, i) => billingMessage(tenantId, `p-${i}`, 2));
    const packs = [packText(events.slice(0, 150).map((e) => JSON.stringify(e))), packText(events.slice(150).map((e) => JSON.stringify(e)))];
    // A pack redelivered, next to a single event of the same request id (the outbox's form): still one row each.
    const first = await deliver("gateway-billing", [...packs, packs[0], events[7]], consumeBilling);
    expect(first.explicitAcks.length).toBe(4);
    expect(first.retryMessages).toEqual([]);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 300, total: -600n });

    const mixedTenant = `ten_pack_mixed_${Date.now()}`;
    const good = [billingMessage(mixedTenant, "m-1", 5), billingMessage(mixedTenant, "m-2", 5)];
    const positiveDebit = { ...billingMessage(mixedTenant, "m-bad", 5), amount_micros: 5 };
    const mixed = packText([JSON.stringify(good[0]), JSON.stringify(positiveDebit), JSON.stringify(good[1])]);
    // The dead-letter queue, watched: what the consumer sends there (calling through to the real one).
    const sentToDeadLetters: { reason: string; body: unknown }[] = [];
    const watched = {
      ...env,
      BILLING_DLQ: {
        send: (body: { reason: string; body: unknown }, options?: QueueSendOptions) => (sentToDeadLetters.push(body), env.BILLING_DLQ.send(body, options)),
        sendBatch: (messages: Iterable<MessageSendRequest<unknown>>, options?: QueueSendBatchOptions) => env.BILLING_DLQ.sendBatch(messages, options),
      },
    } as unknown as Env;
    const result = await deliver("gateway-billing", [mixed, "not json at all", JSON.stringify({ v: 1, events: [] })], consumeBilling, watched);
    expect(result.explicitAcks.length).toBe(3);
    expect(result.retryMessages).toEqual([]);
    expect(await ledgerOf(mixedTenant)).toEqual({ rows: 2, total: -10n });
    expect(sentToDeadLetters.map((m) => m.reason)).toEqual([
      expect.stringContaining("invalid billing message"),
      "invalid billing message: not an event or a pack of events",
      "invalid billing message: not an event or a pack of events",
    ]);
    expect((sentToDeadLetters[0]!.body as BillingMessage).request_id).toBe("m-bad");
    expect(sentToDeadLetters[1]!.body).toBe("not json at all");
  });

  it("a pack's write failing retries the whole message, and its redelivery writes every event once", async () => {
    const tenantId = `ten_pack_down_${Date.now()}`;
    const events = Array.from({ length: 40 }, (_, i) => billingMessage(tenantId, `pd-${i}`, 1));
    const pack = packText(events.map((e) => JSON.stringify(e)));
    const down = { ...env, DATABASE_URL: "postgres://postgres@127.0.0.1:1/nowhere" } as Env;
    const failed = await deliver("gateway-billing", [pack], consumeBilling, down);
    expect(failed.explicitAcks).toEqual([]);
    expect(failed.retryMessages.length).toBe(1);
    const back = await deliver("gateway-billing", [pack], consumeBilling, env, 2);
    expect(back.explicitAcks.length).toBe(1);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 40, total: -40n });
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

    // A pack that ran out of retries is kept as its JSON (its events readable), not as a quoted string.
    const packId = `dlq-pack-${Date.now()}`;
    const pack = packText([JSON.stringify(body), JSON.stringify({ ...body, request_id: `${body.request_id}-2` })]);
    const packBatch = createMessageBatch("gateway-billing-dlq", [{ id: packId, timestamp: new Date(), attempts: 9, body: pack }]);
    const ctx = createExecutionContext();
    await consumeDeadLetters(packBatch, env, ctx);
    expect((await getQueueResult(packBatch, ctx)).ackAll).toBe(true);
    const [packRow] = await db.selectFrom("dead_letter").selectAll().where("message_id", "=", packId).execute();
    expect((packRow!.body as { events: BillingMessage[] }).events.map((e) => e.request_id)).toEqual([body.request_id, `${body.request_id}-2`]);
  });
});

describe("dead-letter replay (admin API)", { timeout: 30_000 }, () => {
  it("sends pending rows back to their queue: each event reaches the ledger once, rows are marked, unreadable ones stay", async () => {
    const tenantId = `ten_replay_${Date.now()}`;
    const events = [0, 1, 2].map((i) => billingMessage(tenantId, `r-${tenantId}-${i}`, 4));
    const stamp = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const row = (kind: string, body: unknown, attempts = 9) => ({ queue: "gateway-billing-dlq", message_id: `replay-${kind}-${stamp}`, attempts, body: JSON.stringify(body), reason: "retries exhausted" });
    await db
      .insertInto("dead_letter")
      .values([row("pack", { v: 1, events: events.slice(0, 2) }), row("one", events[2]), row("text", "not an event", 1), row("empty", { v: 1, events: [] }, 1)])
      .execute();
    const ours = async () => {
      const rows = await db.selectFrom("dead_letter").select(["message_id", "replayed_at"]).where("message_id", "like", `replay-%-${stamp}`).execute();
      return Object.fromEntries(rows.map((r) => [r.message_id.split("-")[1], r.replayed_at !== null]));
    };
    // Older pending rows (other suites, earlier runs on this database) go first: replay until none is left.
    let reply = await admin("POST", "/dead-letters/replay", { queue: "gateway-billing-dlq", limit: 500 });
    for (let i = 0; i < 20 && reply.status === 200 && reply.body.remaining > 0; i++) reply = await admin("POST", "/dead-letters/replay", { queue: "gateway-billing-dlq", limit: 500 });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ remaining: 0 });
    expect(reply.body.unreadable).toBeGreaterThanOrEqual(2);
    expect(await ours()).toEqual({ pack: true, one: true, text: false, empty: false });
    // Through the real queue to the real consumer: three rows.
    await vi.waitFor(async () => expect(await ledgerOf(tenantId)).toEqual({ rows: 3, total: -12n }), { timeout: 10_000, interval: 200 });

    // Replaying the same rows again (as after a crash between send and mark) bills nothing twice.
    await db.updateTable("dead_letter").set({ replayed_at: null }).where("message_id", "in", [`replay-pack-${stamp}`, `replay-one-${stamp}`]).execute();
    const again = await admin("POST", "/dead-letters/replay", { queue: "gateway-billing-dlq", limit: 500 });
    expect(again.status).toBe(200);
    expect(again.body.replayed).toBeGreaterThanOrEqual(2);
    expect(await ours()).toEqual({ pack: true, one: true, text: false, empty: false });
    // Once a sentinel sent after the replay is in, the replayed messages have been handled too.
    await queuesDrained(db);
    expect(await ledgerOf(tenantId)).toEqual({ rows: 3, total: -12n });
  });

  it("refuses a bad request and a missing admin token, replaying nothing", async () => {
    for (const body of [{ limit: 0 }, { limit: 501 }, { queue: "gateway-billing" }, { limit: 5, extra: true }]) {
      const reply = await admin("POST", "/dead-letters/replay", body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.error.code).toBe("invalid_request");
      expect(typeof reply.body.trace_id).toBe("string");
    }
    const anonymous = await call("POST", "/admin/v1/dead-letters/replay", { body: {}, token: null });
    expect(anonymous.status).toBe(401);
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
    const row = await waitFor("the ledger row", () => db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst());
    expect(BigInt(row!.amount_micros)).toBe(BigInt(expected));
    expect(row!.input_tokens).toBe(usage.prompt_tokens);
    expect(row!.usage_estimated).toBe(false);
    const audit = await waitFor("the audit row", () => db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).executeTakeFirst());
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
    const rows = await waitFor("two debits", async () => {
      const found = await db.selectFrom("billing_transaction").select("request_id").where("tenant_id", "=", tenant.tenantId).where("kind", "=", "debit").execute();
      return found.length >= 2 && found;
    });
    expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
    const audits = await waitFor("two audit rows", async () => {
      const found = await db.selectFrom("audit_log").select("request_id").where("trace_id", "=", "reused-request-id-1").where("tenant_id", "=", tenant.tenantId).execute();
      return found.length >= 2 && found;
    });
    expect(audits.map((a) => a.request_id).sort()).toEqual([...ids].sort());
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    expect(snapshot.openHolds).toBe(0);
    expect(snapshot.balanceMicros).toBeLessThan(10_000_000);
  });
});
