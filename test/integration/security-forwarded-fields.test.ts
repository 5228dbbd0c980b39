// Only allowed request fields reach the upstream (issue 16, item 2): the provider format's default list,
// the preset's extra_fields, and nothing else. A field that would cost the operator more or act on its
// account (priority tier, stored completions, web search, audio, predictions, …) is refused with a 400
// naming it, or left out when the preset says `unknown_fields: "drop"`; the upstream never sees it.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { PresetItemSchema, type PresetItem } from "../../src/config/schemas";
import { admin } from "./admin-helpers";
import { mockPresets, mockRequests, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "sec-fields";
const BASE = "https://gw.test/external/v1";

/** The fields a hostile tenant sent that reached OpenAI-format upstreams before this change. */
const ATTACK: Record<string, unknown> = {
  service_tier: "priority",
  store: true,
  web_search_options: { search_context_size: "high" },
  audio: { voice: "alloy", format: "wav" },
  modalities: ["text", "audio"],
  prediction: { type: "content", content: "predicted" },
  logit_bias: { "50256": -100 },
  metadata: { campaign: "x" },
  safety_identifier: "someone-else",
};

let tenant: SeededKey;
const presets = (overrides: Partial<PresetItem> = {}) => mockPresets(SCENARIO).map((p) => PresetItemSchema.parse({ ...p, ...overrides }));

async function post(path: string, body: Record<string, unknown>) {
  const res = await SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const chat = (model: string, extra: Record<string, unknown> = {}) => post("/chat/completions", { model, messages: [{ role: "user", content: "fields" }], ...extra });
/** Clears the scenario's settings and request log (a PUT keeps the log). */
async function resetMock(): Promise<void> {
  await fetch(`${env.MOCK_PROVIDER_URL}/__mock/scenarios/${SCENARIO}`, { method: "DELETE" });
}
const lastUpstreamBody = async () => (await mockRequests(SCENARIO)).requests.at(-1)?.body as Record<string, unknown> | undefined;

beforeAll(async () => {
  tenant = await seedTenant();
});

describe("default: fields outside the provider's list are refused", () => {
  it.each(Object.keys(ATTACK))("%s: 400 naming it, for OpenAI and Azure upstreams, and no upstream call", async (field) => {
    await seedPresets(presets());
    for (const model of ["mock-openai-chat", "mock-azure-chat", "mock-anthropic-chat"]) {
      await resetMock();
      const res = await chat(model, { [field]: ATTACK[field] });
      expect(res.status, `${model} ${field}`).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", param: field });
      expect((await mockRequests(SCENARIO)).count, model).toBe(0);
    }
  });

  it("the default fields pass; null and the gateway's own fields never reach the upstream", async () => {
    await seedPresets(presets());
    await resetMock();
    const res = await chat("mock-openai-chat", { seed: 7, response_format: { type: "text" }, temperature: 0.5, store: null, reasoning_effort: "low" });
    expect(res.status).toBe(200);
    const seen = await lastUpstreamBody();
    expect(seen).toMatchObject({ seed: 7, response_format: { type: "text" }, temperature: 0.5, reasoning_effort: "low" });
    // max_completion_tokens: the preset's output cap, sent when the client sets none.
    expect(Object.keys(seen!).sort()).toEqual(["max_completion_tokens", "messages", "model", "reasoning_effort", "response_format", "seed", "temperature"]);
  });

  it("content parts an upstream reads from the operator's account (audio, stored files) are refused", async () => {
    await seedPresets(presets());
    await resetMock();
    for (const part of [{ type: "input_audio", input_audio: { data: "AAAA", format: "wav" } }, { type: "file", file: { file_id: "file-of-another-tenant" } }]) {
      const res = await post("/chat/completions", { model: "mock-openai-chat", messages: [{ role: "user", content: [{ type: "text", text: "hi" }, part] }] });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("messages.0.content.1.type");
    }
    expect((await mockRequests(SCENARIO)).count).toBe(0);
  });

  it("embeddings too", async () => {
    await seedPresets(presets());
    await resetMock();
    const res = await post("/embeddings", { model: "mock-embed", input: "x", service_tier: "priority" });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("service_tier");
    expect((await mockRequests(SCENARIO)).count).toBe(0);
  });
});

describe("a preset's policy", () => {
  it('unknown_fields "drop": every attack field is left out and the request is served', async () => {
    await seedPresets(presets({ unknown_fields: "drop" }));
    for (const model of ["mock-openai-chat", "mock-azure-chat"]) {
      await resetMock();
      const res = await chat(model, ATTACK);
      expect(res.status, model).toBe(200);
      const seen = await lastUpstreamBody();
      for (const field of Object.keys(ATTACK)) expect(seen, `${model} ${field}`).not.toHaveProperty(field);
    }
  });

  it("extra_fields forward exactly the listed fields; the rest are still refused", async () => {
    await seedPresets(presets({ extra_fields: ["store", "metadata", "logit_bias"] }));
    await resetMock();
    const ok = await chat("mock-openai-chat", { store: true, metadata: { a: "b" }, logit_bias: { "1": 5 } });
    expect(ok.status).toBe(200);
    expect(await lastUpstreamBody()).toMatchObject({ store: true, metadata: { a: "b" }, logit_bias: { "1": 5 } });
    const refused = await chat("mock-openai-chat", { store: true, service_tier: "priority" });
    expect(refused.body.error).toMatchObject({ code: "invalid_request", param: "service_tier" });
  });

  it("an Anthropic preset's extras are copied into the Messages body as they are", async () => {
    await seedPresets(presets({ extra_fields: ["thinking"] }));
    await resetMock();
    const res = await chat("mock-anthropic-chat", { thinking: { type: "enabled", budget_tokens: 1024 } });
    expect(res.status).toBe(200);
    expect(await lastUpstreamBody()).toMatchObject({ thinking: { type: "enabled", budget_tokens: 1024 } });
  });
});

describe("extra_fields when written", () => {
  const item = (over: Record<string, unknown>) => ({ ...mockPresets(SCENARIO)[0], ...over });

  it("a field the upstream charges more for needs its price", async () => {
    const cases: Array<[string, string]> = [
      ["service_tier", "pricing.priority"],
      ["web_search_options", "pricing.web_search_per_call_micros"],
      ["audio", "pricing.audio_input_per_million_micros"],
      ["modalities", "pricing.audio_input_per_million_micros"],
    ];
    for (const [field, param] of cases) {
      const res = await admin("PUT", "/presets", { items: [item({ extra_fields: [field] })] });
      expect(res.status, field).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", param: `items.0.${param}` });
    }
    const priced = {
      input_per_million_micros: 1, output_per_million_micros: 2, priority: { input_per_million_micros: 2, output_per_million_micros: 4 },
      web_search_per_call_micros: 10_000, audio_input_per_million_micros: 40, audio_output_per_million_micros: 80,
    };
    const res = await admin("PUT", "/presets", { items: [item({ extra_fields: ["service_tier", "web_search_options", "audio", "modalities", "store"], pricing: priced })] });
    expect(res.status).toBe(200);
  });

  it("the gateway's own fields cannot be forwarded", async () => {
    const res = await admin("PUT", "/presets", { items: [item({ extra_fields: ["template"] })] });
    expect(res.body.error).toMatchObject({ code: "invalid_request", param: "items.0.extra_fields.0" });
    expect((await admin("PUT", "/presets", { items: [item({ extra_fields: ["Bad-Name"] })] })).status).toBe(400);
  });
});
