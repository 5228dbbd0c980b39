// Fallback through the real Worker, queues and ledger: the first candidate answers 503 before any byte,
// the next one answers; the client gets one answer, the tenant exactly one debit, and the audit record
// lists every attempt in order.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { PresetItem } from "../../src/config/schemas";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { queuesDrained } from "../fixtures/queues";
import { waitFor } from "../fixtures/wait";

const ledger = createDb(env);
afterAll(() => ledger.dispose());


let tenant: SeededKey;
const START_BALANCE = 10_000_000;

beforeAll(async () => {
  await mockScenario("rf-down", { status: 503 });
  await mockScenario("rf-up", {});
  const primary = mockPresets("rf-down").find((p) => p.model === "mock-openai-chat")!;
  const secondary: PresetItem = { ...mockPresets("rf-up").find((p) => p.model === "mock-openai-chat")!, priority: 1 };
  await seedPresets([primary, secondary]);
  tenant = await seedTenant({ balanceMicros: START_BALANCE });
});

describe("fallback to the next candidate", { timeout: 30_000 }, () => {
  it("first candidate 503 before any byte, second answers: one answer, exactly one debit, every attempt audited", async () => {
    const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "fall back please" }] }),
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-gateway-request-id")!;
    const usage = ((await res.json()) as any).usage;
    expect((await mockRequests("rf-down")).count).toBe(3);
    expect((await mockRequests("rf-up")).count).toBe(1);

    const audit = await waitFor("the audit row", () => ledger.db.selectFrom("audit_log").selectAll().where("request_id", "=", requestId).executeTakeFirst());
    expect(audit).toMatchObject({ status: 200, upstream: "rf-up-openai", config_version: expect.any(Number) });
    const attempts = (audit.meta as { attempts: Array<{ target: string; status?: number }> }).attempts;
    expect(attempts.map((a) => [a.target, a.status])).toEqual([
      ["rf-down-openai", 503],
      ["rf-down-openai", 503],
      ["rf-down-openai", 503],
      ["rf-up-openai", 200],
    ]);

    const debits = await waitFor("the ledger row", async () => {
      const rows = await ledger.db.selectFrom("billing_transaction").selectAll().where("tenant_id", "=", tenant.tenantId).execute();
      return rows.length > 0 && rows;
    });
    // A duplicate (there must be none) would have been sent before a sentinel that has now arrived.
    await queuesDrained(ledger.db);
    const all = await ledger.db.selectFrom("billing_transaction").selectAll().where("tenant_id", "=", tenant.tenantId).execute();
    expect(all).toHaveLength(1);
    expect(debits[0]).toMatchObject({ request_id: requestId, kind: "debit" });
    const expected = -(usage.prompt_tokens * 1 + usage.completion_tokens * 2);
    expect(BigInt(all[0]!.amount_micros)).toBe(BigInt(expected));
    const guard = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    expect(guard.openHolds).toBe(0);
    expect(guard.balanceMicros).toBe(START_BALANCE + expected);
  });
});
