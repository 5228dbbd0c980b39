// Answers over MAX_RESPONSE_BYTES (2,000,000 in tests) are paid upstream though the tenant gets none of it:
// they are billed (the upstream's usage from the body's tail when it can be read, else the reservation),
// the ledger row is flagged oversize_answer, the 502 says so, and the hold is settled, never released.
import { env, SELF } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { mockPresets, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

const handle = createDb(env);
afterAll(() => handle.dispose());
const BALANCE = 10_000_000;

async function ledgerRow(requestId: string) {
  for (let i = 0; i < 200; i++) {
    const row = await handle.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst();
    if (row) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ledger row for ${requestId}`);
}

async function guard(tenant: SeededKey) {
  return env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
}

async function holdsClosed(tenant: SeededKey) {
  for (let i = 0; i < 100 && (await guard(tenant)).openHolds > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return guard(tenant);
}

function chat(tenant: SeededKey, model: string, extra: Record<string, unknown> = {}) {
  return SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "a huge answer please" }], ...extra }),
  });
}

/** The reservation of the same request, read from the 402 of a tenant whose balance covers nothing. */
async function reservationOf(model: string, extra: Record<string, unknown> = {}): Promise<number> {
  const poor = await seedTenant({ balanceMicros: 1 });
  const body = (await (await chat(poor, model, extra)).json()) as any;
  return Number(/estimated cost (\d+)/.exec(body.error.message)![1]);
}

describe("answers over the size limit are billed, flagged and settled", () => {
  for (const model of ["mock-openai-chat", "mock-anthropic-chat"]) {
    it(`${model}, not streamed, usage readable at the tail: 502 saying it was billed, the upstream's usage charged`, async () => {
      const scenario = `oversize-tail-${model}`;
      await mockScenario(scenario, { fault: "oversized", oversized_bytes: 3_000_000 });
      await seedPresets(mockPresets(scenario));
      const tenant = await seedTenant({ balanceMicros: BALANCE });
      const res = await chat(tenant, model);
      expect(res.status).toBe(502);
      const error = ((await res.json()) as any).error;
      expect(error.code).toBe("upstream_response_too_large");
      expect(error.message).toMatch(/billed/);
      const row = await ledgerRow(res.headers.get("x-gateway-request-id")!);
      expect(row.kind).toBe("debit");
      expect(row.usage_estimated).toBe(false);
      // The mock reports its usual usage at the end of the body: 4 + 4 prompt words, 130 completion words.
      expect({ input: row.input_tokens, output: row.output_tokens }).toEqual({ input: 8, output: 130 });
      expect(BigInt(row.amount_micros)).toBe(-BigInt(8 * 1 + 130 * 2));
      expect((row.meta as any).flags).toContain("oversize_answer");
      expect(await holdsClosed(tenant)).toMatchObject({ openHolds: 0, balanceMicros: BALANCE - 268 });
    });
  }

  it("not streamed and never ending: cut, and billed at the reservation, flagged estimated", async () => {
    const scenario = "oversize-endless";
    await mockScenario(scenario, { fault: "endless" });
    await seedPresets(mockPresets(scenario));
    const tenant = await seedTenant({ balanceMicros: BALANCE });
    const reservation = await reservationOf("mock-openai-chat");
    const res = await chat(tenant, "mock-openai-chat");
    expect(res.status).toBe(502);
    const error = ((await res.json()) as any).error;
    expect(error.code).toBe("upstream_response_too_large");
    expect(error.message).toMatch(/billed at the reservation/);
    const row = await ledgerRow(res.headers.get("x-gateway-request-id")!);
    expect(row.usage_estimated).toBe(true);
    expect((row.meta as any).flags).toContain("oversize_answer");
    expect(BigInt(row.amount_micros)).toBe(-BigInt(reservation));
    expect(await holdsClosed(tenant)).toMatchObject({ openHolds: 0, balanceMicros: BALANCE - reservation });
  });

  it("streamed: the error event ends the stream, what was delivered is billed and the row flagged", async () => {
    const scenario = "oversize-stream";
    await mockScenario(scenario, { fault: "oversized", oversized_bytes: 3_000_000 });
    await seedPresets(mockPresets(scenario));
    const tenant = await seedTenant({ balanceMicros: BALANCE });
    const res = await chat(tenant, "mock-openai-chat", { stream: true });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(JSON.parse(events.at(-1)!.data).error.code).toBe("upstream_response_too_large");
    const row = await ledgerRow(res.headers.get("x-gateway-request-id")!);
    expect((row.meta as any).flags).toContain("oversize_answer");
    expect(BigInt(row.amount_micros)).toBeLessThan(0n);
    const after = await holdsClosed(tenant);
    expect(after.openHolds).toBe(0);
    expect(BigInt(BALANCE - after.balanceMicros)).toBe(-BigInt(row.amount_micros));
  });
});
