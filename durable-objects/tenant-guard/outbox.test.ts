// The outbox module on a real TenantGuard's SQLite: idempotent puts, batching, back-off while the queue
// is down, nothing lost or sent twice; and through the object's RPC and alarm into the real queue.
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { OutboxKind } from "../../src/guard/types";
import { Outbox, OUTBOX_FIRST_RETRY_MS, OUTBOX_SENT_RETENTION_MS, outboxBackoffMs, checkOutboxMessage } from "./outbox";
import { guardFor, inGuard } from "../../test/fixtures/tenant-guard";

const T = 1_900_000_000_000;

function withOutbox<R>(fn: (outbox: Outbox) => Promise<R>): Promise<R> {
  return inGuard(guardFor(), (_guard, state) => fn(new Outbox(state.storage.sql)));
}

function put(outbox: Outbox, kind: OutboxKind, id: string, now = T, extra: Record<string, unknown> = {}): boolean {
  const message = { request_id: id, ...extra };
  return outbox.put(kind, id, checkOutboxMessage(kind, message), now);
}

describe("outbox", () => {
  it("keeps one row per kind and request id: a double put does not double-send", async () => {
    await withOutbox(async (outbox) => {
      expect(put(outbox, "billing", "r1")).toBe(true);
      expect(put(outbox, "billing", "r1")).toBe(false);
      expect(put(outbox, "audit", "r1")).toBe(true);
      const sent: string[] = [];
      await outbox.drain(T, async (kind, bodies) => void sent.push(...bodies.map((b) => `${kind}:${(b as { request_id: string }).request_id}`)));
      expect(sent.sort()).toEqual(["audit:r1", "billing:r1"]);
      // Sent rows stay as tombstones for a while: a late duplicate is still ignored, then forgotten.
      expect(put(outbox, "billing", "r1", T + 1)).toBe(false);
      expect(outbox.status()).toMatchObject({ pending: 0, sent: 2 });
      outbox.prune(T + OUTBOX_SENT_RETENTION_MS);
      expect(outbox.status()).toMatchObject({ pending: 0, sent: 0 });
    });
  });

  it("500 events while the queue is down for 60 s: backs off 1, 2, 4 ... s, then sends each exactly once", async () => {
    const downUntil = T + 60_000;
    const sends = new Map<string, number>();
    let calls = 0;
    let largestBatch = 0;
    const send = async (_kind: OutboxKind, bodies: unknown[]) => {
      calls++;
      largestBatch = Math.max(largestBatch, bodies.length);
      if (now < downUntil) throw new Error("queue unavailable (injected)");
      for (const b of bodies) {
        const id = (b as { request_id: string }).request_id;
        sends.set(id, (sends.get(id) ?? 0) + 1);
      }
    };
    let now = T;
    const attemptsAt: number[] = [];
    await withOutbox(async (outbox) => {
      for (let i = 0; i < 500; i++) put(outbox, "billing", `ev-${i}`, T);
      while (outbox.status().pending > 0) {
        attemptsAt.push(now - T);
        await outbox.drain(now, send);
        now = outbox.status().nextAttemptAt ?? now;
        if (attemptsAt.length > 50) throw new Error("outbox never drained");
      }
      expect(outbox.status()).toMatchObject({ pending: 0, sent: 500 });
    });
    expect(attemptsAt).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000]);
    expect(sends.size).toBe(500);
    expect([...sends.values()].every((n) => n === 1)).toBe(true);
    expect(largestBatch).toBe(100);
    expect(calls).toBe(7 * 5);
    console.log(`[figure] outbox: 500 events, queue down 60 s: ${attemptsAt.length} drain attempts, 500/500 sent once, 0 lost`);
  });

  it("a put during a send is neither lost nor sent twice", async () => {
    await withOutbox(async (outbox) => {
      put(outbox, "audit", "a1");
      const sent: string[] = [];
      await outbox.drain(T, async (_kind, bodies) => {
        put(outbox, "audit", "a1", T); // duplicate of a row being sent
        put(outbox, "audit", "a2", T); // new while sending
        sent.push(...bodies.map((b) => (b as { request_id: string }).request_id));
      });
      expect(sent).toEqual(["a1"]);
      expect(outbox.status()).toMatchObject({ pending: 1, sent: 1 });
      await outbox.drain(T, async (_kind, bodies) => void sent.push(...bodies.map((b) => (b as { request_id: string }).request_id)));
      expect(sent).toEqual(["a1", "a2"]);
    });
  });

  it("splits batches by size as well as count", async () => {
    const sizes: number[] = [];
    await withOutbox(async (outbox) => {
      for (let i = 0; i < 10; i++) put(outbox, "audit", `big-${i}`, T, { pad: "x".repeat(60_000) });
      await outbox.drain(T, async (_kind, bodies) => void sizes.push(bodies.length));
    });
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });

  it("back-off doubles to a 5 minute cap and never gives up", () => {
    expect([1, 2, 3, 4, 9, 10, 50].map(outboxBackoffMs)).toEqual([1_000, 2_000, 4_000, 8_000, 256_000, 300_000, 300_000]);
  });
});

describe("outbox through the TenantGuard", () => {
  it("outboxPut keeps the event and arms the alarm; the alarm sends it to the real queue", async () => {
    const stub = guardFor();
    const message = {
      v: 1, request_id: `ob-${crypto.randomUUID()}`, tenant_id: "ten_outbox_unit", key_id: "key_x", channel: "external", kind: "debit",
      amount_micros: -1, currency: "USD", model: null, upstream: null, input_tokens: 0, output_tokens: 0,
      usage_estimated: false, price_version: null, created_at: new Date().toISOString(),
    };
    expect(await stub.outboxPut("billing", message)).toEqual({ stored: true });
    expect(await stub.outboxPut("billing", message)).toEqual({ stored: false });
    const alarmAt = await inGuard(stub, (_g, state) => state.storage.getAlarm());
    expect(alarmAt).not.toBeNull();
    expect(alarmAt!).toBeLessThanOrEqual(Date.now() + OUTBOX_FIRST_RETRY_MS);
    expect(await stub.outboxStatus()).toMatchObject({ pending: 1, sent: 0 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.outboxStatus()).toMatchObject({ pending: 0, sent: 1 });
    // The tombstone keeps the alarm armed for its pruning, an hour on.
    expect(await inGuard(stub, (_g, state) => state.storage.getAlarm())).toBeGreaterThan(Date.now() + OUTBOX_SENT_RETENTION_MS - 120_000);
  });
});
