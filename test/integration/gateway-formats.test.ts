// Every combination of client format (OpenAI, Anthropic Messages) and upstream format (OpenAI,
// Anthropic, Azure) through the real Worker, tools included; and prompt templates on the internal channel.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

const SCENARIO = "gw-formats";
const MODELS = ["mock-openai-chat", "mock-anthropic-chat", "mock-azure-chat"] as const;
const TOOLS = [{ type: "function", function: { name: "lookup", description: "Look something up", parameters: { type: "object", properties: { query: { type: "string" } } } } }];
let tenant: SeededKey;
let service: { token: string };

function call(path: string, body: unknown, token = tenant.apiKey, headers: Record<string, string> = {}) {
  return SELF.fetch(`https://gw.test${path}`, {
    method: "POST",
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  tenant = await seedTenant();
  service = await seedService();
});

describe.each(MODELS)("upstream %s", (model) => {
  it("OpenAI client format: text, usage, finish_reason", async () => {
    const res = await call("/external/v1/chat/completions", { model, messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Format check" }] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.model).toBe(model);
    expect(body.choices[0].message.content).toMatch(/^Mock reply to: Format check/);
    expect(body.choices[0].finish_reason).toBe("stop");
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("OpenAI client format: tool calls", async () => {
    const res = await call("/external/v1/chat/completions", { model, messages: [{ role: "user", content: "find cats" }], tools: TOOLS });
    const body = (await res.json()) as any;
    expect(body.choices[0].finish_reason).toBe("tool_calls");
    const toolCall = body.choices[0].message.tool_calls[0];
    expect(toolCall.function.name).toBe("lookup");
    expect(JSON.parse(toolCall.function.arguments)).toEqual({ query: "find cats" });
  });

  it("OpenAI client format: streamed text", async () => {
    const events = await readSse(await call("/external/v1/chat/completions", { model, stream: true, messages: [{ role: "user", content: "Stream format" }] }));
    expect(events.at(-1)?.data).toBe("[DONE]");
    const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? "").join("");
    expect(text).toMatch(/^Mock reply to: Stream format/);
  });

  it("Anthropic client format: text, usage, stop_reason (x-api-key accepted)", async () => {
    const res = await call("/external/v1/messages", { model, max_tokens: 256, system: "Be brief", messages: [{ role: "user", content: "Anthropic check" }] }, "", { "x-api-key": tenant.apiKey, "anthropic-version": "2023-06-01" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.type).toBe("message");
    expect(body.role).toBe("assistant");
    expect(body.content[0].text).toMatch(/^Mock reply to: Anthropic check/);
    expect(body.stop_reason).toBe("end_turn");
    expect(body.usage.output_tokens).toBeGreaterThan(0);
  });

  it("Anthropic client format: tool use", async () => {
    const res = await call("/internal/v1/messages", {
      model,
      max_tokens: 256,
      messages: [{ role: "user", content: "find dogs" }],
      tools: [{ name: "lookup", description: "Look something up", input_schema: { type: "object", properties: { query: { type: "string" } } } }],
    }, service.token);
    const body = (await res.json()) as any;
    expect(body.stop_reason).toBe("tool_use");
    const block = body.content.find((b: any) => b.type === "tool_use");
    expect(block.name).toBe("lookup");
    expect(block.input).toEqual({ query: "find dogs" });
  });

  it("Anthropic client format: streamed event sequence", async () => {
    const events = await readSse(await call("/internal/v1/messages", { model, max_tokens: 256, stream: true, messages: [{ role: "user", content: "Anthropic stream" }] }, service.token));
    const types = events.map((e) => e.event);
    expect(types[0]).toBe("message_start");
    expect(types.at(-1)).toBe("message_stop");
    expect(types).toContain("content_block_delta");
    expect(types).toContain("message_delta");
    const text = events.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta.text ?? "").join("");
    expect(text).toMatch(/^Mock reply to: Anthropic stream/);
  });
});

describe("upstream wire formats", () => {
  it("each provider receives its own format and credential style", async () => {
    await call("/external/v1/chat/completions", { model: "mock-anthropic-chat", messages: [{ role: "system", content: "sys" }, { role: "user", content: "wire" }] });
    await call("/external/v1/chat/completions", { model: "mock-azure-chat", messages: [{ role: "user", content: "wire" }] });
    const log = (await mockRequests(SCENARIO)).requests;
    const anthropic = log.findLast((r) => r.path.endsWith("/v1/messages"))!;
    expect(anthropic.headers["x-api-key"]).toBe(env.MOCK_API_KEY);
    expect(anthropic.headers["anthropic-version"]).toBeDefined();
    expect((anthropic.body as any).system).toBe("sys");
    expect((anthropic.body as any).model).toBe("claude-mock");
    const azure = log.findLast((r) => r.path.includes("/openai/deployments/mock-deployment/chat/completions"))!;
    expect(azure.headers["api-key"]).toBe(env.MOCK_API_KEY);
    expect(azure.headers.authorization).toBeUndefined();
  });
});

describe("prompt templates (internal channel)", () => {
  beforeAll(async () => {
    const simple = { name: "greet", version: 1, engine: "simple_replace", messages: [{ role: "system", content: "You greet {{ name }} politely." }] };
    const jinja = { name: "list", version: 1, engine: "jinja", messages: [{ role: "system", content: "Items:{% for i in items %} {{ i | upper }}{% endfor %}" }] };
    for (const t of [simple, jinja]) {
      await env.CONFIG_KV.put(kvKeys.template(t.name, 1), JSON.stringify(t));
      await env.CONFIG_KV.put(kvKeys.templateLatest(t.name), JSON.stringify(t));
    }
  });

  it("renders simple_replace and Jinja templates before the request's messages", async () => {
    for (const [template, variables, expected] of [
      [{ name: "greet" }, { name: "Ada" }, "You greet Ada politely."],
      [{ name: "list", version: 1 }, { items: ["a", "b"] }, "Items: A B"],
    ] as const) {
      const res = await call("/internal/v1/chat/completions", { model: "mock-openai-chat", template, variables, messages: [{ role: "user", content: "hi" }] }, service.token);
      expect(res.status).toBe(200);
      const sent = (await mockRequests(SCENARIO)).requests.at(-1)!.body as any;
      expect(sent.messages[0]).toEqual({ role: "system", content: expected });
      expect(sent.messages[1]).toEqual({ role: "user", content: "hi" });
      expect(sent.template).toBeUndefined();
      expect(sent.variables).toBeUndefined();
    }
  });

  it("a missing variable is a 400 template_error naming it; an unknown template a 404", async () => {
    const res = await call("/internal/v1/chat/completions", { model: "mock-openai-chat", template: { name: "greet" }, variables: {}, messages: [] }, service.token);
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("template_error");
    expect(body.error.param).toBe("variables.name");
    const missing = await call("/internal/v1/chat/completions", { model: "mock-openai-chat", template: { name: "nope" }, messages: [] }, service.token);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe("template_not_found");
  });

  it("templates are refused on the external channel", async () => {
    const res = await call("/external/v1/chat/completions", { model: "mock-openai-chat", template: { name: "greet" }, variables: { name: "x" }, messages: [{ role: "user", content: "x" }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.param).toBe("template");
  });
});
