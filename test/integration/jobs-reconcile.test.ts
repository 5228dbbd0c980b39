// Reconciliation against real TenantGuards and the real ledger: agreement is quiet, a credit the
// ledger never got is drift, events still in the queue are not, negative balances are flagged.
import { createExecutionContext, createScheduledController, env, SELF } from "cloudflare:test";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { createDb } from "../../src/db/client";
import { recordBillingEvents, type BillingEvent } from "../../src/db/ledger";
import type { AdmissionRequest } from "../../src/guard/types";
import { runReconciliation } from "../../src/jobs/reconcile";
import { CRON_EVERY_5_MIN, handleScheduled } from "../../src/scheduled";
import { seedTenant } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const handle = createDb(env, { max: 2 });
const db = handle.db;
afterAll(() => handle.dispose());

const guardOf = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));

const credit = (tenantId: string, key: string, amount: number): BillingEvent => ({ tenantId, keyId: "admin", requestId: `credit:${key}`, kind: "credit", amountMicros: amount });
const debit = (tenantId: string, requestId: string, cost: number): BillingEvent => ({ tenantId, keyId: "key_x", requestId, kind: "debit", amountMicros: -cost, model: "m" });

/** One request through the guard: reserve, then settle at `cost` (what record_billing does). */
async function settleRequest(tenantId: string, requestId: string, cost: number): Promise<void> {
  const admission: AdmissionRequest = {
    requestId, keyId: "key_x", channel: "external", capability: "chat", clientIp: null, limits: {}, quotas: [], estimate: { tokens: 1, costMicros: 0 }, chargeBalance: true,
  };
  const admitted = await guardOf(tenantId).admit(admission);
  if (!admitted.ok) throw new Error(`admit: ${admitted.failure.kind}`);
  await guardOf(tenantId).settle({ holdId: requestId, tokens: 1, costMicros: cost, inputTokens: 1, outputTokens: 0 });
}

/** A tenant whose guard and ledger agree: a top-up and two settled requests, recorded in both. */
async function agreeingTenant(): Promise<string> {
  const { tenantId } = await seedTenant({ balanceMicros: 0 });
  await guardOf(tenantId).credit(5_000_000, "top-1");
  await settleRequest(tenantId, "r1", 1_234);
  await settleRequest(tenantId, "r2", 99);
  await recordBillingEvents(db, [credit(tenantId, "top-1", 5_000_000), debit(tenantId, "r1", 1_234), debit(tenantId, "r2", 99)]);
  return tenantId;
}

let logs: { warn: MockInstance; error: MockInstance; log: MockInstance };
beforeEach(() => {
  logs = { warn: vi.spyOn(console, "warn"), error: vi.spyOn(console, "error"), log: vi.spyOn(console, "log") };
});
afterEach(() => vi.restoreAllMocks());

/** The JSON log lines written through one console method. */
const lines = (spy: MockInstance): any[] => spy.mock.calls.map((c) => String(c[0])).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));

// Tests share this file's KV (every seeded tenant is listed), so the clean cases run first.
describe("reconciliation", () => {
  it("the 5-minute cron finds every tenant in agreement and logs nothing but its summary", async () => {
    const tenants = [await agreeingTenant(), await agreeingTenant(), (await seedTenant({ balanceMicros: 0 })).tenantId];
    await handleScheduled(createScheduledController({ cron: CRON_EVERY_5_MIN, scheduledTime: Date.now() }), env, createExecutionContext());
    expect(lines(logs.warn).filter((l) => l.msg === "balance drift")).toEqual([]);
    expect(lines(logs.error)).toEqual([]);
    const summary = lines(logs.log).find((l) => l.msg === "reconciliation");
    expect(summary).toMatchObject({ level: "info", tenants: tenants.length, in_agreement: tenants.length, drift: 0, negative: 0, in_flight: 0 });
  });

  it("a credit in the guard with no ledger row is drift, reported with its amount", async () => {
    const ok = await agreeingTenant();
    const { tenantId } = await seedTenant({ balanceMicros: 0 });
    await guardOf(tenantId).credit(5_000_000, "lost-top-up");
    const report = await runReconciliation(env, { graceMs: 20 });
    expect(report.drift).toEqual([
      { tenantId, basis: "quiet", guardBalanceMicros: 5_000_000n, ledgerBalanceMicros: 0n, driftMicros: 5_000_000n, firstDriftMicros: 5_000_000n },
    ]);
    expect(report.drift.some((d) => d.tenantId === ok)).toBe(false);
    expect(lines(logs.warn).filter((l) => l.msg === "balance drift")).toEqual([
      { level: "warn", msg: "balance drift", tenant_id: tenantId, basis: "quiet", drift_micros: 5_000_000, guard_balance_micros: 5_000_000, ledger_balance_micros: 0, first_drift_micros: 5_000_000 },
    ]);
    // recording the missing row repairs it
    await recordBillingEvents(db, [credit(tenantId, "lost-top-up", 5_000_000)]);
    expect((await runReconciliation(env, { graceMs: 0 })).drift).toEqual([]);
  });

  it("a debit the ledger never got is drift too (ledger above the guard)", async () => {
    const { tenantId } = await seedTenant({ balanceMicros: 0 });
    await guardOf(tenantId).credit(1_000, "t");
    await settleRequest(tenantId, "lost-debit", 1);
    await recordBillingEvents(db, [credit(tenantId, "t", 1_000)]);
    const report = await runReconciliation(env, { graceMs: 0 });
    expect(report.drift.find((d) => d.tenantId === tenantId)).toMatchObject({ basis: "quiet", driftMicros: -1n });
    await recordBillingEvents(db, [debit(tenantId, "lost-debit", 1)]);
  });

  it("a top-up through the admin API whose ledger row is still in the queue at the first look is not drift", async () => {
    const { tenantId } = await seedTenant({ balanceMicros: 0 });
    const res = await SELF.fetch(`https://gw.test/admin/v1/tenants/${tenantId}/credits`, {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" },
      body: JSON.stringify({ amount_micros: 2_500_000, idempotency_key: `k-${tenantId}` }),
    });
    expect(res.status).toBe(200);
    let sawLag = false;
    const report = await runReconciliation(env, {
      // The real queue consumer lands the row while the job waits.
      wait: async () => {
        await waitFor("the ledger row", async () => {
          const row = await db.selectFrom("billing_transaction").select("id").where("tenant_id", "=", tenantId).executeTakeFirst();
          if (!row) sawLag = true;
          return row !== undefined;
        });
      },
    });
    // The consumer batches for up to a second, so the first look saw the guard ahead of the ledger.
    expect(sawLag).toBe(true);
    expect(report.drift.find((d) => d.tenantId === tenantId)).toBeUndefined();
    expect(report.inFlight).not.toContain(tenantId); // caught up: in agreement at the second look
  });

  it("a busy tenant: a small in-flight difference passes, a large one that stays is reported", async () => {
    const busy = (await seedTenant({ balanceMicros: 0 })).tenantId;
    const broken = (await seedTenant({ balanceMicros: 0 })).tenantId;
    await guardOf(busy).credit(1_000_000, "b1");
    await guardOf(broken).credit(7_000_000, "x1");
    const report = await runReconciliation(env, {
      thresholdMicros: 1_000_000n,
      wait: async () => {
        // busy: the first top-up lands, a second one is applied and still in flight
        await recordBillingEvents(db, [credit(busy, "b1", 1_000_000)]);
        await guardOf(busy).credit(400_000, "b2");
        // broken: keeps moving, but the 7,000,000 never reaches the ledger
        await guardOf(broken).credit(10, "x2");
        await recordBillingEvents(db, [credit(broken, "x2", 10)]);
      },
    });
    expect(report.inFlight).toContain(busy);
    expect(report.drift.find((d) => d.tenantId === busy)).toBeUndefined();
    expect(report.drift.find((d) => d.tenantId === broken)).toMatchObject({ basis: "active", driftMicros: 7_000_000n, firstDriftMicros: 7_000_000n });
  });

  it("flags a negative balance with an error line", async () => {
    const { tenantId } = await seedTenant({ balanceMicros: 0 });
    // A hold never takes a balance below zero; a request served unheld (guard unreachable, balance policy open) can.
    await guardOf(tenantId).settle({ holdId: "overdraw", tokens: 1, costMicros: 750, inputTokens: 1, outputTokens: 0, unheld: { keyId: "key_x", channel: "external" } });
    await recordBillingEvents(db, [debit(tenantId, "overdraw", 750)]);
    const report = await runReconciliation(env, { graceMs: 0 });
    expect(report.negative).toContainEqual({ tenantId, balanceMicros: -750n, ledgerBalanceMicros: -750n });
    expect(report.drift.find((d) => d.tenantId === tenantId)).toBeUndefined();
    expect(lines(logs.error)).toContainEqual({ level: "error", msg: "negative balance", tenant_id: tenantId, balance_micros: -750, ledger_balance_micros: -750 });
  });
});
