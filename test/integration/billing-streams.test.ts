// Streaming billing through the real Worker, queues and ledger: usage reported by the upstream,
// usage counted with the tokenizer when it reports none, a client that disconnects, an upstream
// that breaks mid-stream. Every case settles the tenant's hold and writes exactly one debit.
import { env, SELF } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { countTokens } from "../../src/billing/tokens";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";
import { waitFor, waitUntil } from "../fixtures/wait";

const handle = createDb(env);
afterAll(() => handle.dispose());

const ledgerRow = (requestId: string) =>
  waitFor(`the ledger row of ${requestId}`, () => handle.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst());

async function streamFrom(scenario: string, settings: Record<string, unknown>, model = "mock-openai-chat") {
  await mockScenario(scenario, settings);
  await seedPresets(mockPresets(scenario));
  const tenant = await seedTenant();
  const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "count my tokens please" }] }),
  });
  expect(res.status).toBe(200);
  return { res, tenant, traceId: res.headers.get("x-gateway-request-id")! };
}

async function guardOf(tenantId: string) {
  return env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId)).snapshot();
}

describe("streaming billing", { timeout: 30_000 }, () => {
  it("bills the upstream's own usage (asked for even when the client did not)", async () => {
    const { res, tenant, traceId } = await streamFrom("bs-usage", { chunks: 6 });
    const events = await readSse(res);
    expect(events.some((e) => e.data !== "[DONE]" && JSON.parse(e.data).usage)).toBe(false);
    const upstreamBody = (await mockRequests("bs-usage")).requests.at(-1)!.body as any;
    expect(upstreamBody.stream_options.include_usage).toBe(true);
    const row = await ledgerRow(traceId);
    expect(row.usage_estimated).toBe(false);
    expect(row.input_tokens).toBe(4 + 4);
    expect(row.output_tokens).toBe(130);
    expect(BigInt(row.amount_micros)).toBe(-BigInt(8 * 1 + 130 * 2));
    expect(await guardOf(tenant.tenantId)).toMatchObject({ openHolds: 0, balanceMicros: 10_000_000 - 268 });
  });

  it("counts with the tokenizer and flags the debit estimated when the upstream reports no usage", async () => {
    const { res, traceId } = await streamFrom("bs-nousage", { fault: "no_usage", chunks: 4 });
    const text = (await readSse(res)).filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "").join("");
    const row = await ledgerRow(traceId);
    expect(row.usage_estimated).toBe(true);
    expect(row.output_tokens).toBe(await countTokens(text));
    expect(row.input_tokens).toBe(await countTokens("count my tokens please"));
  });

  it("an upstream that breaks mid-stream: an error event for the client, the delivered tokens billed as estimated", async () => {
    const { res, tenant, traceId } = await streamFrom("bs-reset", { fault: "reset_mid_stream", fault_after_chunks: 3, chunks: 10 });
    const events = await readSse(res);
    expect(JSON.parse(events.at(-1)!.data).error.code).toBe("upstream_error");
    const delivered = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "").join("");
    const row = await ledgerRow(traceId);
    expect(row.usage_estimated).toBe(true);
    expect(row.output_tokens).toBe(await countTokens(delivered));
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(row.output_tokens).toBeLessThan(130);
    expect((await guardOf(tenant.tenantId)).openHolds).toBe(0);
  });

  it("a client that disconnects mid-stream: the upstream call is cancelled and what was generated is billed", async () => {
    const { res, tenant, traceId } = await streamFrom("bs-leave", { fault: "endless", chunk_delay_ms: 10 });
    const reader = res.body!.getReader();
    let received = 0;
    while (received < 5) {
      const { value } = await reader.read();
      received += value ? 1 : 0;
    }
    await reader.cancel();
    const row = await ledgerRow(traceId);
    expect(row.usage_estimated).toBe(true);
    expect(row.output_tokens).toBeGreaterThan(0);
    await waitUntil("the upstream to see the disconnect", async () => (await mockRequests("bs-leave")).disconnects > 0);
    expect((await mockRequests("bs-leave")).disconnects).toBe(1);
    expect((await guardOf(tenant.tenantId)).openHolds).toBe(0);
  });

  it("an Anthropic upstream's usage events are billed", async () => {
    const { res, traceId } = await streamFrom("bs-anthropic", { chunks: 5 }, "mock-anthropic-chat");
    await res.text();
    const row = await ledgerRow(traceId);
    expect(row.usage_estimated).toBe(false);
    expect(row.output_tokens).toBe(130);
    expect(row.input_tokens).toBe(8);
  });
});
