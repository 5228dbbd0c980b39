// Never losing a billing or audit event: when the queue send fails, emitEvent hands the event to the
// owner's TenantGuard outbox, whose alarm sends it to the real queue, and the consumer writes the ledger.
//
// A local queue cannot be made to fail, so the one test double here is a Queue-shaped producer whose
// send throws (for every call, or for the first N) standing in for the platform binding's failure;
// everything after it — the Durable Object, its SQLite, its alarm, the real queue, the consumer and
// Postgres — is real.
import { createExecutionContext, env, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { sql } from "kysely";
import { afterAll, describe, expect, it, vi } from "vitest";
import { emitDurably, emitEvent, MAX_BUFFERED_EVENTS, MAX_PACK_BYTES, UNATTRIBUTED_OUTBOX, type EmitContext } from "../../src/billing/emit";
import { createDb } from "../../src/db/client";
import { eventsOf, PACK_PREFIX, utf8Length, type AuditMessage, type BillingMessage } from "../../queues/messages";
import { waitFor } from "../fixtures/wait";

const handle = createDb(env);
afterAll(() => handle.dispose());

/** A producer whose first `failures` sends throw, like a queue binding during an outage; then the real queue. */
function flakyQueue(real: Queue<unknown>, failures = Number.POSITIVE_INFINITY): Queue<unknown> & { calls: number; bodies: unknown[] } {
  const queue = {
    calls: 0,
    /** Bodies of the messages that were sent (not those of failed calls). */
    bodies: [] as unknown[],
    async send(body: unknown, options?: QueueSendOptions) {
      queue.calls++;
      if (queue.calls <= failures) throw new Error("Queue send failed: service unavailable (injected)");
      await real.send(body, options);
    },
    async sendBatch(messages: Iterable<MessageSendRequest<unknown>>, options?: QueueSendBatchOptions) {
      queue.calls++;
      if (queue.calls <= failures) throw new Error("Queue send failed: service unavailable (injected)");
      const list = [...messages];
      await real.sendBatch(list, options);
      queue.bodies.push(...list.map((m) => m.body));
    },
  };
  return queue as unknown as Queue<unknown> & { calls: number; bodies: unknown[] };
}

function emitContext(over: Partial<EmitContext["env"]>): EmitContext {
  return { env: { ...env, ...over }, traceId: "trace-outbox" };
}

function billing(tenantId: string, requestId: string, amount: number): BillingMessage {
  return {
    v: 1, request_id: requestId, tenant_id: tenantId, key_id: "key_outbox", channel: "external", kind: "debit", amount_micros: -amount,
    currency: "USD", model: "mock-openai-chat", upstream: "u", input_tokens: 1, output_tokens: 2, usage_estimated: false,
    price_version: 1, created_at: new Date().toISOString(),
  };
}

function audit(tenantId: string | null, requestId: string): AuditMessage {
  return {
    v: 1, trace_id: `t-${requestId}`, request_id: requestId, tenant_id: tenantId, key_id: null, channel: "external",
    route: "/external/v1/chat/completions", model: null, upstream: null, status: 401, error_code: "invalid_api_key",
    error_source: "client", upstream_status: null, latency_ms: 3, step_timings: [], config_version: null, flags: [],
    input_tokens: null, output_tokens: null, usage_estimated: null, cost_micros: null, meta: {}, created_at: new Date().toISOString(),
  };
}

const guardOf = (name: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(name));

async function ledgerNow(tenantId: string): Promise<{ rows: number; total: bigint }> {
  const row = await handle.db
    .selectFrom("billing_transaction")
    .select([sql<string>`count(*)`.as("rows"), sql<string>`coalesce(sum(amount_micros), 0)`.as("total")])
    .where("tenant_id", "=", tenantId)
    .executeTakeFirstOrThrow();
  return { rows: Number(row.rows), total: BigInt(row.total) };
}

/** The tenant's ledger once it holds `want` rows (the consumer runs on its own; no fixed wait). */
async function ledger(tenantId: string, want: number): Promise<{ rows: number; total: bigint }> {
  if (want === 0) return ledgerNow(tenantId);
  return waitFor(`${want} ledger rows`, async () => {
    const now = await ledgerNow(tenantId);
    return now.rows >= want && now;
  }, { timeoutMs: 60_000, intervalMs: 100 });
}

const auditRow = (requestId: string) =>
  waitFor(`the audit row of ${requestId}`, () => handle.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).executeTakeFirst(), { timeoutMs: 60_000 });

/**
 * Runs the guard's alarm until its outbox is empty. A real alarm may fire on its own meanwhile (then
 * runDurableObjectAlarm finds none scheduled, and the next ask sees its result), so this waits on the
 * outbox's own count, however many alarm runs that takes on a slow machine.
 */
async function drained(name: string): Promise<void> {
  const guard = guardOf(name);
  await waitFor(`the outbox of ${name} to empty`, async () => {
    if ((await guard.outboxStatus()).pending === 0) return true;
    await runDurableObjectAlarm(guard);
    return (await guard.outboxStatus()).pending === 0;
  }, { timeoutMs: 60_000 });
}

describe("the billing / audit outbox", { timeout: 60_000 }, () => {
  it("a failed billing send lands in the tenant's outbox; the alarm sends it; it reaches the ledger once", async () => {
    const tenantId = `ten_outbox_${Date.now()}`;
    const message = billing(tenantId, `ob-${crypto.randomUUID()}`, 123);
    const ctx = emitContext({ BILLING_QUEUE: flakyQueue(env.BILLING_QUEUE) });
    expect(await emitDurably(ctx, "billing", message)).toBe("outbox");
    // The same event kept twice (a retried callback) is still one event.
    expect(await emitDurably(ctx, "billing", message)).toBe("outbox");
    expect(await guardOf(tenantId).outboxStatus()).toMatchObject({ pending: 1, sent: 0 });
    expect((await ledger(tenantId, 0)).rows).toBe(0);

    await drained(tenantId);
    expect(await guardOf(tenantId).outboxStatus()).toMatchObject({ pending: 0, sent: 1 });
    expect(await ledger(tenantId, 1)).toEqual({ rows: 1, total: -123n });
  });

  it("500 events while the producer fails its first 300 sends: all 500 in the ledger, exact total, 0 lost", async () => {
    const tenantId = `ten_outbox500_${Date.now()}`;
    const queue = flakyQueue(env.BILLING_QUEUE, 300);
    const ctx = emitContext({ BILLING_QUEUE: queue });
    const messages = Array.from({ length: 500 }, (_, i) => billing(tenantId, `ob500-${tenantId}-${i}`, 1 + (i % 7)));
    const results: string[] = [];
    const warned = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      // One at a time, so exactly the first 300 calls fail.
      for (const m of messages) results.push(await emitDurably(ctx, "billing", m));
      // Each held event says so once (request id, no payload).
      expect(warned).toHaveBeenCalledTimes(300);
    } finally {
      warned.mockRestore();
    }
    expect(results.filter((r) => r === "outbox")).toHaveLength(300);
    expect(results.filter((r) => r === "sent")).toHaveLength(200);
    expect(results).not.toContain("lost");
    // One reading: the tenant's own alarm may move events from pending to sent between two.
    const status = await guardOf(tenantId).outboxStatus();
    expect(status.pending + status.sent).toBe(300);

    const started = Date.now();
    await drained(tenantId);
    const expected = -messages.reduce((sum, m) => sum - m.amount_micros, 0);
    expect(await ledger(tenantId, 500)).toEqual({ rows: 500, total: BigInt(expected) });
    console.log(`[figure] outbox: 500 events, first 300 sends failed -> 300 via the outbox, 500/500 in the ledger (${Date.now() - started} ms after draining began), 0 lost`);
  });

  it("audit events go the same way; one with no tenant is kept by the shared unattributed outbox", async () => {
    const tenantId = `ten_outbox_audit_${Date.now()}`;
    const ctx = emitContext({ AUDIT_QUEUE: flakyQueue(env.AUDIT_QUEUE) });
    const own = audit(tenantId, `oba-${crypto.randomUUID()}`);
    const orphan = audit(null, `oba-${crypto.randomUUID()}`);
    await emitEvent(ctx, "audit", own);
    await emitEvent(ctx, "audit", orphan);
    expect((await guardOf(tenantId).outboxStatus()).pending).toBe(1);
    expect((await guardOf(UNATTRIBUTED_OUTBOX).outboxStatus()).pending).toBeGreaterThanOrEqual(1);
    await drained(tenantId);
    await drained(UNATTRIBUTED_OUTBOX);
    expect(await auditRow(own.request_id)).toMatchObject({ tenant_id: tenantId, status: 401 });
    expect(await auditRow(orphan.request_id)).toMatchObject({ tenant_id: null, status: 401 });
  });

  it("when the outbox cannot be reached either, one error line names the request id and carries no payload", async () => {
    const unreachable = {
      idFromName() {
        throw new Error("Durable Object unavailable (injected)");
      },
    } as unknown as EmitContext["env"]["TENANT_GUARD"];
    const ctx = emitContext({ BILLING_QUEUE: flakyQueue(env.BILLING_QUEUE), TENANT_GUARD: unreachable });
    const lines: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      const message = { ...billing("ten_secret_owner", "req-last-resort", 999), model: "secret-model-name" };
      expect(await emitDurably(ctx, "billing", message)).toBe("lost");
      await expect(emitEvent(ctx, "billing", message)).resolves.toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(lines).toHaveLength(2);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: "error", request_id: "req-last-resort", queue: "billing" });
    expect(lines[0]).not.toMatch(/secret-model-name|999|ten_secret_owner/);
  });

  it("requests' events leave in packs (one sendBatch per window), and a failed batch is kept event by event", async () => {
    for (const failing of [false, true]) {
      const tenantId = `ten_batch_${failing}_${Date.now()}`;
      const queue = flakyQueue(env.BILLING_QUEUE, failing ? Number.POSITIVE_INFINITY : 0);
      const count = MAX_BUFFERED_EVENTS + 50;
      const messages = Array.from({ length: count }, (_, i) => billing(tenantId, `batch-${tenantId}-${i}`, 2));
      // Each event from its own "request" (execution context), as the completion callbacks send them.
      const execs = messages.map(() => createExecutionContext());
      const warned = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        await Promise.all(messages.map((m, i) => emitEvent({ env: { ...env, BILLING_QUEUE: queue }, exec: execs[i]!, traceId: "t" }, "billing", m)));
        await Promise.all(execs.map((e) => waitOnExecutionContext(e)));
      } finally {
        warned.mockRestore();
      }
      // 550 events: the full window of 500 sent at once (its packs in one sendBatch), the rest when the window closes.
      expect(queue.calls).toBe(2);
      if (!failing) {
        // A few messages carry them all, each a pack within the size bound, each event exactly once.
        expect(queue.bodies.length).toBeGreaterThanOrEqual(2);
        expect(queue.bodies.length).toBeLessThanOrEqual(8);
        for (const body of queue.bodies) {
          expect(typeof body === "string" && body.startsWith(PACK_PREFIX)).toBe(true);
          expect(utf8Length(body as string)).toBeLessThanOrEqual(MAX_PACK_BYTES + PACK_PREFIX.length + 2);
        }
        const ids = queue.bodies.flatMap((b) => eventsOf(b)!.map((e) => (e as BillingMessage).request_id));
        expect(ids.sort()).toEqual(messages.map((m) => m.request_id).sort());
      }
      if (failing) {
        // Every event is in the outbox, still pending or already sent by its own alarm (which may beat this line).
        const status = await guardOf(tenantId).outboxStatus();
        expect(status.pending + status.sent).toBe(count);
        await drained(tenantId);
      }
      expect(await ledger(tenantId, count)).toEqual({ rows: count, total: BigInt(-2 * count) });
    }
  });
});
