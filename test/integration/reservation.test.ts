// What is admitted was reserved: the hold covers the most the upstream can charge for what is sent (every
// message part, tools, n, images, the per-request price and the output cap actually sent upstream), so
// concurrent requests can neither take a balance below zero nor leave cost uncollected, nor overrun a quota.
// The reservation is read from the 402 a balance of 1 micro-unit gets ("estimated cost N").
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { PresetItemSchema } from "../../src/config/schemas";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "reservation";
const handle = createDb(env);
afterAll(() => handle.dispose());

let probe: SeededKey;

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  probe = await seedTenant({ balanceMicros: 1 });
});

function post(tenant: SeededKey, body: unknown, path = "/external/v1/chat/completions") {
  return SELF.fetch(`https://gw.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json", "anthropic-version": "2023-06-01" },
    body: JSON.stringify(body),
  });
}

/** The cost a request reserves, in micro-units (the probe tenant's balance of 1 cannot cover any). */
async function reserved(body: unknown): Promise<number> {
  const res = await post(probe, body);
  const json = (await res.json()) as any;
  expect(res.status, JSON.stringify(json)).toBe(402);
  const m = /estimated cost (\d+)/.exec(json.error.message);
  expect(m, json.error.message).not.toBeNull();
  return Number(m![1]);
}

/** Varied English-like words, about `bytes` long (the tokenizer sees realistic text, not one repeated token). */
function prose(bytes: number, seed = 1): string {
  const words = ["alpha", "budget", "canyon", "delta", "engine", "forest", "gateway", "harbor", "island", "jungle", "kernel", "ledger", "meter", "number", "orbit", "parcel"];
  let out = "";
  let s = seed;
  while (out.length < bytes) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out += `${words[s % words.length]}${s % 7} `;
  }
  return out.slice(0, bytes);
}

const user = (content: unknown) => ({ role: "user", content });
const PRICE = { input: 1, output: 2 }; // micro-units per token in mockPresets

describe("the reservation covers what the upstream can charge", () => {
  it("no max_tokens: the preset's output cap (4,096 by default) is reserved, and n=16 reserves 16 times it", async () => {
    const one = await reserved({ model: "mock-openai-chat", messages: [user("hi")] });
    const sixteen = await reserved({ model: "mock-openai-chat", n: 16, messages: [user("hi")] });
    expect(one).toBeGreaterThanOrEqual(4096 * PRICE.output);
    expect(sixteen - one).toBe(15 * 4096 * PRICE.output);
    const capped = await reserved({ model: "mock-openai-chat", n: 16, max_tokens: 100, messages: [user("hi")] });
    expect(capped - (await reserved({ model: "mock-openai-chat", max_tokens: 100, messages: [user("hi")] }))).toBe(15 * 100 * PRICE.output);
  });

  it("600 KB of tool definitions, tool-call arguments or tool results reserve like 600 KB of text", async () => {
    const big = prose(600_000);
    const asText = await reserved({ model: "mock-openai-chat", max_tokens: 1, messages: [user(big)] });
    const asTools = await reserved({
      model: "mock-openai-chat",
      max_tokens: 1,
      messages: [user("hi")],
      tools: [{ type: "function", function: { name: "lookup", description: big, parameters: { type: "object", properties: {} } } }],
    });
    const asArguments = await reserved({
      model: "mock-openai-chat",
      max_tokens: 1,
      messages: [user("hi"), { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "lookup", arguments: JSON.stringify({ q: big }) } }] }],
    });
    const asToolResult = await reserved({
      model: "mock-openai-chat",
      max_tokens: 1,
      messages: [user("hi"), { role: "tool", tool_call_id: "c1", content: [{ type: "text", text: big }] }],
    });
    const asUnknownPart = await reserved({ model: "mock-openai-chat", max_tokens: 1, messages: [user([{ type: "input_audio", input_audio: { data: big, format: "wav" } }])] });
    // Text as text: at least what cl100k_base counts (about 3.5 bytes a token for this prose).
    expect(asText).toBeGreaterThan(600_000 / 4);
    for (const [name, cost] of Object.entries({ asTools, asArguments, asToolResult, asUnknownPart })) expect(cost, name).toBeGreaterThanOrEqual(asText * 0.95);
  });

  it("images reserve the preset's per-image price each; the per-request price is reserved too", async () => {
    const items = mockPresets(SCENARIO).map((p) =>
      PresetItemSchema.parse({ ...p, pricing: { ...p.pricing, per_request_micros: 7_000, per_image_micros: 50_000 } }),
    );
    await seedPresets(items);
    try {
      const image = (url: string) => ({ type: "image_url", image_url: { url } });
      const none = await reserved({ model: "mock-openai-chat", max_tokens: 1, messages: [user([{ type: "text", text: "look" }])] });
      const two = await reserved({
        model: "mock-openai-chat",
        max_tokens: 1,
        messages: [user([{ type: "text", text: "look" }, image("https://example.com/a.png"), image(`data:image/png;base64,${"A".repeat(600_000)}`)])],
      });
      expect(none).toBeGreaterThanOrEqual(7_000);
      expect(two - none).toBeGreaterThanOrEqual(2 * 50_000);
    } finally {
      await seedPresets(mockPresets(SCENARIO));
    }
  });

  it("every token is reserved at the dearest price the upstream may bill it at (priority tier, cache writes, audio, reasoning), and a forwarded web search at its price", async () => {
    const body = { model: "mock-openai-chat", max_tokens: 100, messages: [user("price me")] };
    const plain = await reserved(body);
    const items = mockPresets(SCENARIO).map((p) =>
      PresetItemSchema.parse({
        ...p,
        extra_fields: ["web_search_options"],
        pricing: { ...p.pricing, cache_write_per_million_micros: 5_000_000, reasoning_per_million_micros: 3_000_000, audio_output_per_million_micros: 4_000_000, web_search_per_call_micros: 25_000, priority: { input_per_million_micros: 3_000_000, output_per_million_micros: 9_000_000 } },
      }),
    );
    await seedPresets(items);
    try {
      const dear = await reserved(body);
      const inputTokens = plain - 100 * PRICE.output;
      // Input at the cache-write price (5 a token), output at the priority tier's (9 a token).
      expect(dear).toBe(inputTokens * 5 + 100 * 9);
      const searching = await reserved({ ...body, web_search_options: {} });
      // One search call, and the field's own bytes as input.
      expect(searching - dear).toBeGreaterThanOrEqual(25_000);
      expect(searching - dear).toBeLessThan(25_000 + 200);
    } finally {
      await seedPresets(mockPresets(SCENARIO));
    }
  });

  it("the cap reserved is the cap sent upstream: the preset's max_output_tokens, by every adapter, when the client sets none", async () => {
    const items = mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, max_output_tokens: 1_000 }));
    await seedPresets(items);
    const rich = await seedTenant({ balanceMicros: 100_000_000 });
    try {
      for (const model of ["mock-openai-chat", "mock-azure-chat", "mock-anthropic-chat"]) {
        const res = await post(rich, { model, messages: [user("cap me")] });
        expect(res.status, model).toBe(200);
        await res.text();
        const sent = (await mockRequests(SCENARIO)).requests.at(-1)!.body as Record<string, unknown>;
        expect(sent.max_completion_tokens ?? sent.max_tokens, model).toBe(1_000);
        const cost = await reserved({ model, messages: [user("cap me")] });
        expect(cost, model).toBeGreaterThanOrEqual(1_000 * PRICE.output);
        expect(cost, model).toBeLessThan(4_096 * PRICE.output);
      }
      // A client's own cap is sent as it is.
      const res = await post(rich, { model: "mock-openai-chat", max_tokens: 77, messages: [user("cap me")] });
      await res.text();
      const sent = (await mockRequests(SCENARIO)).requests.at(-1)!.body as Record<string, unknown>;
      expect(sent.max_tokens).toBe(77);
      expect(sent.max_completion_tokens).toBeUndefined();
    } finally {
      await seedPresets(mockPresets(SCENARIO));
    }
    // The default, 4,096: what the Anthropic adapter always sent, now sent by the OpenAI and Azure adapters too.
    const res = await post(rich, { model: "mock-openai-chat", messages: [user("default cap")] });
    await res.text();
    expect(((await mockRequests(SCENARIO)).requests.at(-1)!.body as Record<string, unknown>).max_completion_tokens).toBe(4_096);
  });
});

interface Row {
  request_id: string;
  amount_micros: string;
  input_tokens: number;
  output_tokens: number;
  meta: { flags?: string[]; uncollected_micros?: number };
}

async function rowsOf(tenantId: string, count: number): Promise<Row[]> {
  for (let i = 0; i < 200; i++) {
    const rows = (await handle.db.selectFrom("billing_transaction").select(["request_id", "amount_micros", "input_tokens", "output_tokens", "meta"]).where("tenant_id", "=", tenantId).where("kind", "<>", "credit").execute()) as unknown as Row[];
    if (rows.length >= count) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fewer than ${count} ledger rows for ${tenantId}`);
}

describe("concurrent long answers against a small balance", () => {
  const LONG = "concurrency-long";
  // 4,000 output tokens each (the mock writes that many words unless the cap sent is lower), slow enough
  // that all ten are in flight together.
  beforeAll(() => mockScenario(LONG, { completion_tokens: 4_000, latency_ms: 400 }));
  const body = { model: "mock-openai-chat", messages: [user("write me a long answer please")] };

  it("10 at once against a balance of three reservations: three served and fully paid, the rest 402, balance >= 0, nothing uncollected", async () => {
    await seedPresets(mockPresets(LONG));
    const estimate = await reserved(body);
    const balance = 3 * estimate;
    const tenant = await seedTenant({ balanceMicros: balance });
    const results = await Promise.all(Array.from({ length: 10 }, () => post(tenant, body).then(async (r) => ({ status: r.status, id: r.headers.get("x-gateway-request-id")!, body: await r.text() }))));
    const served = results.filter((r) => r.status === 200);
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 402)).toBe(true);
    const rows = await rowsOf(tenant.tenantId, served.length);
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    const charged = rows.reduce((sum, r) => sum - Number(r.amount_micros), 0);
    console.log(`[figure] reservation: estimate ${estimate}, balance ${balance}, served ${served.length}/10, charged ${charged}, final balance ${snapshot.balanceMicros}, uncollected ${rows.reduce((s, r) => s + (r.meta.uncollected_micros ?? 0), 0)}`);
    expect(snapshot.balanceMicros).toBeGreaterThanOrEqual(0);
    expect(snapshot.openHolds).toBe(0);
    expect(rows.filter((r) => r.meta.uncollected_micros !== undefined || r.meta.flags?.includes("over_reservation"))).toEqual([]);
    // Each served answer paid in full: its reported usage at the preset's prices.
    for (const r of rows) expect(-Number(r.amount_micros)).toBe(r.input_tokens * PRICE.input + r.output_tokens * PRICE.output);
    expect(rows.every((r) => r.output_tokens === 4_000)).toBe(true);
    expect(balance - snapshot.balanceMicros).toBe(charged);
    expect(served.length).toBe(3);
  });

  it("a cost quota of three reservations is never overrun by 10 concurrent answers", async () => {
    await seedPresets(mockPresets(LONG));
    const estimate = await reserved(body);
    const limit = 3 * estimate;
    const tenant = await seedTenant({ balanceMicros: 1_000_000_000, key: { quotas: [{ id: "cost-monthly-all", type: "cost", period: "monthly", limit }] } });
    const results = await Promise.all(Array.from({ length: 10 }, () => post(tenant, body).then(async (r) => ({ status: r.status, body: await r.text() }))));
    const served = results.filter((r) => r.status === 200).length;
    await rowsOf(tenant.tenantId, served);
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    const used = snapshot.quotas.find((q) => q.id === "cost-monthly-all")!.used;
    console.log(`[figure] cost quota: limit ${limit}, served ${served}/10, used ${used}`);
    expect(used).toBeLessThanOrEqual(limit);
    expect(served).toBe(3);
  });
});
