// Priced extras are billed at what the upstream reports it used, at the preset's own prices (issue 16,
// item 2): cached, cache-write, audio and reasoning tokens, web searches and the priority tier, through the
// real Worker, the mock provider, the queues and the ledger.
import { env, SELF } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { PresetItemSchema } from "../../src/config/schemas";
import { mockPresets, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "bill-details";
const handle = createDb(env);
afterAll(() => handle.dispose());

const PRICING = {
  input_per_million_micros: 1_000_000,
  output_per_million_micros: 2_000_000,
  cached_input_per_million_micros: 500_000,
  cache_write_per_million_micros: 1_250_000,
  audio_input_per_million_micros: 10_000_000,
  audio_output_per_million_micros: 20_000_000,
  web_search_per_call_micros: 10_000,
  priority: { input_per_million_micros: 2_000_000, output_per_million_micros: 4_000_000, cached_input_per_million_micros: 1_000_000 },
};
/** prompt "one two three": 7 tokens, plus 5 audio; reply 10 words, plus 40 reasoning and 7 audio tokens. */
const DETAILS = { cached_tokens: 3, audio_prompt_tokens: 5, reasoning_tokens: 40, audio_completion_tokens: 7 };

async function ledgerRow(requestId: string) {
  return waitFor(`the ledger row of ${requestId}`, () =>
    handle.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst(),
  );
}

async function billed(model: string, extra: Record<string, unknown>) {
  const tenant = await seedTenant();
  const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "one two three" }], ...extra }),
  });
  expect(res.status).toBe(200);
  if (extra.stream) await readSse(res);
  else await res.text();
  const row = await ledgerRow(res.headers.get("x-gateway-request-id")!);
  return { amount: -Number(row.amount_micros), input: row.input_tokens, output: row.output_tokens, estimated: row.usage_estimated };
}

describe("billing what the upstream reports, at the preset's prices", { timeout: 30_000 }, () => {
  it("OpenAI: cached, audio and reasoning tokens at their prices; priority and a web search when the preset forwards them", async () => {
    await mockScenario(SCENARIO, { completion_tokens: 10, usage_details: DETAILS });
    await seedPresets(mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, pricing: PRICING, extra_fields: ["service_tier", "web_search_options"] })));
    // default tier: input 3 x 0.5 + 5 x 10 + 4 x 1 = 55.5 -> 56; output 7 x 20 + 40 x 2 + 10 x 2 = 240
    expect(await billed("mock-openai-chat", {})).toEqual({ amount: 296, input: 12, output: 57, estimated: false });
    // priority (reported by the upstream): input 3 x 1 + 50 + 4 x 2 = 61; output 140 + 40 x 4 + 10 x 4 = 340; one search 10,000
    expect(await billed("mock-openai-chat", { service_tier: "priority", web_search_options: {} })).toMatchObject({ amount: 10_401 });
    // Azure speaks the same format
    expect(await billed("mock-azure-chat", { service_tier: "priority" })).toMatchObject({ amount: 401 });
    // A stream bills the tier its chunks say served it, as the non-streamed answer does.
    expect(await billed("mock-openai-chat", { service_tier: "priority", stream: true })).toMatchObject({ amount: 401, estimated: false });
  });

  it("OpenAI: a priority request the upstream served at the default tier is billed at the default tier, streamed or not", async () => {
    await mockScenario(SCENARIO, { completion_tokens: 10, usage_details: DETAILS, service_tier: "default" });
    await seedPresets(mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, pricing: PRICING, extra_fields: ["service_tier"] })));
    // The answer says "default": 56 + 240 = 296, not the priority 61 + 340 = 401 asked for.
    expect(await billed("mock-openai-chat", { service_tier: "priority" })).toEqual({ amount: 296, input: 12, output: 57, estimated: false });
    expect(await billed("mock-openai-chat", { service_tier: "priority", stream: true })).toEqual({ amount: 296, input: 12, output: 57, estimated: false });
    expect(await billed("mock-openai-chat", { service_tier: "priority", stream: true, stream_options: { include_usage: true } })).toMatchObject({ amount: 296 });
  });

  it("Anthropic: cache reads and writes, web searches and the priority tier from its usage block", async () => {
    await mockScenario(SCENARIO, { completion_tokens: 10, usage_details: { cached_tokens: 3, cache_creation_tokens: 2, reasoning_tokens: 40, web_search_requests: 2 }, service_tier: "priority" });
    await seedPresets(mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, pricing: PRICING })));
    // input 4 + 2 + 3 = 9 tokens: 3 x 1 (priority cached) + 2 x 1.25 + 4 x 2 = 13.5 -> 14; output 50 x 4 = 200; searches 2 x 10,000
    expect(await billed("mock-anthropic-chat", {})).toEqual({ amount: 20_214, input: 9, output: 50, estimated: false });
    // Streamed, the searches arrive in message_delta (message_start has none yet): billed the same.
    expect(await billed("mock-anthropic-chat", { stream: true })).toEqual({ amount: 20_214, input: 9, output: 50, estimated: false });
  });

  it("a preset that does not forward service_tier never bills priority for it: the field is refused, or dropped and billed at base", async () => {
    await mockScenario(SCENARIO, { completion_tokens: 10, usage_details: DETAILS });
    await seedPresets(mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, pricing: PRICING, unknown_fields: "drop" })));
    expect(await billed("mock-openai-chat", { service_tier: "priority" })).toMatchObject({ amount: 296 });
  });
});
