// A tenant whose fail_policy.balance is "open" is served while its TenantGuard cannot be reached; what it was
// served is billed with guard_pending, and the billing consumer (which reaches the guard again) charges the
// guard before it writes the ledger row: the two books agree to the micro-unit and reconciliation finds no
// drift. The gateway's requests run with the guard's namespace replaced by one whose every call fails.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { createDb } from "../../src/db/client";
import { recordBillingEvents } from "../../src/db/ledger";
import type { Env } from "../../src/env";
import { runReconciliation } from "../../src/jobs/reconcile";
import { mockPresets, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";

const app = buildApp();
const handle = createDb(env);
afterAll(() => handle.dispose());

const unreachableGuard = {
  idFromName: (name: string) => env.TENANT_GUARD.idFromName(name),
  get: () => new Proxy({}, { get: (_target, method) => (method === "then" ? undefined : () => Promise.reject(new Error("Durable Object unreachable (injected)"))) }),
} as unknown as Env["TENANT_GUARD"];

const BALANCE = 1_000_000;

async function chat(testEnv: Env, apiKey: string, stream: boolean) {
  const ctx = createExecutionContext();
  const res = await app.request(
    "/external/v1/chat/completions",
    {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", stream, messages: [{ role: "user", content: "served while the guard is down" }] }),
    },
    testEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, requestId: res.headers.get("x-gateway-request-id")!, text };
}

async function ledgerRows(tenantId: string, count: number) {
  for (let i = 0; i < 200; i++) {
    const rows = await handle.db.selectFrom("billing_transaction").selectAll().where("tenant_id", "=", tenantId).where("kind", "<>", "credit").execute();
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fewer than ${count} ledger rows`);
}

describe('fail_policy.balance "open" with the guard unreachable', () => {
  it("five requests served unheld are charged in the guard by the billing consumer: guard = ledger, no drift", { timeout: 120_000 }, async () => {
    await mockScenario("fail-open-settle", {});
    await seedPresets(mockPresets("fail-open-settle"));
    const tenant = await seedTenant({ balanceMicros: BALANCE, tenant: { fail_policy: { rate_limit: "open", balance: "open" } } });
    // The seeded top-up, as the admin API would have written it to the ledger.
    await recordBillingEvents(handle.db, [{ tenantId: tenant.tenantId, keyId: "admin", requestId: `credit:seed-${tenant.tenantId}`, kind: "credit", amountMicros: BALANCE }]);
    const down = { ...env, TENANT_GUARD: unreachableGuard };

    const served = [];
    // Each call also waits out its isolate's 5 s metrics flush window (waitOnExecutionContext).
    for (const stream of [false, true, false, true, false]) served.push(await chat(down, tenant.apiKey, stream));
    expect(served.map((s) => s.status)).toEqual([200, 200, 200, 200, 200]);

    const rows = await ledgerRows(tenant.tenantId, served.length);
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(served.map((s) => s.requestId)));
    const ledgerSpend = rows.reduce((sum, r) => sum - BigInt(r.amount_micros), 0n);
    expect(ledgerSpend).toBeGreaterThan(0n);
    const guard = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    console.log(`[figure] fail-open settlement: 5 served unheld, ledger spend ${ledgerSpend}, guard spend ${BALANCE - guard.balanceMicros}`);
    expect(BigInt(BALANCE - guard.balanceMicros)).toBe(ledgerSpend);
    expect(guard.openHolds).toBe(0);

    const report = await runReconciliation(env, { graceMs: 0 });
    expect(report.drift.find((d) => d.tenantId === tenant.tenantId)).toBeUndefined();
    expect(report.negative.find((n) => n.tenantId === tenant.tenantId)).toBeUndefined();
    expect(report.unreachable.find((u) => u.tenantId === tenant.tenantId)).toBeUndefined();

    // A settlement retried (the consumer's batch redelivered) charges nothing twice.
    const again = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).settle({
      holdId: served[0]!.requestId, tokens: 1, costMicros: 999, inputTokens: 1, outputTokens: 0, unheld: { keyId: tenant.keyId, channel: "external" },
    });
    expect(again.alreadySettled).toBe(true);
    expect((await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot()).balanceMicros).toBe(guard.balanceMicros);
  });
});
