// Both channels end to end through the real Worker: chat (JSON and SSE), embeddings, models, errors.
import { env, listDurableObjectIds, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

const SCENARIO = "gw-chat";
let tenant: SeededKey;
let service: { token: string };

const chatBody = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "Hello there gateway" }], ...extra });

function post(path: string, token: string, body: string, headers: Record<string, string> = {}) {
  return SELF.fetch(`https://gw.test${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body,
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  tenant = await seedTenant();
  service = await seedService();
});

describe("chat completions", () => {
  for (const channel of ["external", "internal"] as const) {
    it(`${channel}: answers in OpenAI's format with the requested model, usage and a trace id`, async () => {
      const token = channel === "external" ? tenant.apiKey : service.token;
      const res = await post(`/${channel}/v1/chat/completions`, token, chatBody());
      expect(res.status).toBe(200);
      expect(res.headers.get("x-trace-id")).toMatch(/^[0-9a-f]{32}$/);
      const body = (await res.json()) as any;
      expect(body.object).toBe("chat.completion");
      expect(body.model).toBe("mock-openai-chat");
      expect(body.choices[0].message.content).toMatch(/^Mock reply to: Hello there gateway/);
      // the mock counts 4 + words per message
      expect(body.usage.prompt_tokens).toBe(4 + 3);
      expect(body.usage.completion_tokens).toBeGreaterThan(0);
    });
  }

  it("sends the gateway's own credential upstream, never the client's", async () => {
    await post("/external/v1/chat/completions", tenant.apiKey, chatBody(), { cookie: "session=abc", "x-forwarded-host": "evil.example" });
    const log = await mockRequests(SCENARIO);
    const last = log.requests.at(-1)!;
    expect(last.headers.authorization).toBe(`Bearer ${env.MOCK_API_KEY}`);
    expect(JSON.stringify(last.headers)).not.toContain(tenant.apiKey);
    expect(last.headers.cookie).toBeUndefined();
    expect(last.headers["x-forwarded-host"]).toBeUndefined();
  });

  it("honours an incoming traceparent and x-request-id", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await post("/internal/v1/chat/completions", service.token, chatBody(), { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(res.headers.get("x-trace-id")).toBe(traceId);
    const res2 = await post("/internal/v1/chat/completions", service.token, chatBody(), { "x-request-id": "req-12345678" });
    expect(res2.headers.get("x-trace-id")).toBe("req-12345678");
  });
});

describe("streaming", () => {
  for (const channel of ["external", "internal"] as const) {
    it(`${channel}: streams OpenAI chunks ending in [DONE], usage only when asked`, async () => {
      const token = channel === "external" ? tenant.apiKey : service.token;
      const res = await post(`/${channel}/v1/chat/completions`, token, chatBody({ stream: true }));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const events = await readSse(res);
      expect(events.at(-1)?.data).toBe("[DONE]");
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "mock-openai-chat")).toBe(true);
      expect(chunks.some((c) => c.usage)).toBe(false);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
      expect(text).toMatch(/^Mock reply to: Hello there gateway/);

      const withUsage = await readSse(await post(`/${channel}/v1/chat/completions`, token, chatBody({ stream: true, stream_options: { include_usage: true } })));
      const usageChunk = withUsage.slice(0, -1).map((e) => JSON.parse(e.data)).find((c) => c.usage);
      expect(usageChunk.usage.prompt_tokens).toBe(7);
    });
  }

  it("passes chunks through as the upstream produces them (first chunk before the upstream's last)", async () => {
    const slow = "gw-chat-slow";
    await mockScenario(slow, { chunks: 5, chunk_delay_ms: 150 });
    await seedPresets(mockPresets(slow));
    const started = Date.now();
    const res = await post("/internal/v1/chat/completions", service.token, chatBody({ stream: true }));
    const reader = res.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    expect(first.done).toBe(false);
    while (!(await reader.read()).done);
    const lastAt = Date.now() - started;
    // the upstream needs >= 4 x 150 ms between its first and last chunk
    expect(lastAt).toBeGreaterThanOrEqual(600);
    expect(firstAt).toBeLessThan(lastAt - 400);
    await seedPresets(mockPresets(SCENARIO));
  });
});

describe("admission only when there is something to enforce", () => {
  it("a service with no limits is served without a TenantGuard round trip; one with limits goes through it", async () => {
    const free = await seedService();
    const limited = await seedService({ rate_limits: { requests_per_minute: 1000 } });
    for (const svc of [free, limited]) expect((await post("/internal/v1/chat/completions", svc.token, chatBody())).status).toBe(200);
    const ids = (await listDurableObjectIds(env.TENANT_GUARD)).map((id) => id.toString());
    expect(ids).not.toContain(env.TENANT_GUARD.idFromName(free.serviceId).toString());
    expect(ids).toContain(env.TENANT_GUARD.idFromName(limited.serviceId).toString());
  });
});

describe("embeddings and models", () => {
  it("serves embeddings on both channels", async () => {
    for (const [channel, token] of [["external", tenant.apiKey], ["internal", service.token]] as const) {
      const res = await post(`/${channel}/v1/embeddings`, token, JSON.stringify({ model: "mock-embed", input: ["a b c", "d e"] }));
      expect(res.status).toBe(200);
      const body = (await res.json()) as any;
      expect(body.object).toBe("list");
      expect(body.data).toHaveLength(2);
      expect(body.model).toBe("mock-embed");
      expect(Array.isArray(body.data[0].embedding)).toBe(true);
    }
  });

  it("lists the models visible to the caller", async () => {
    const res = await SELF.fetch("https://gw.test/external/v1/models", { headers: { authorization: `Bearer ${tenant.apiKey}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.object).toBe("list");
    expect(body.data.map((m: any) => m.id).sort()).toEqual(["mock-anthropic-chat", "mock-azure-chat", "mock-embed", "mock-openai-chat"]);
  });
});

describe("errors: one shape, the right status", () => {
  async function expectError(res: Response, status: number, code: string) {
    expect(res.status).toBe(status);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe("string");
    expect(body.error).toHaveProperty("param");
    expect(body.error).toHaveProperty("type");
    expect(body.trace_id).toBe(res.headers.get("x-trace-id"));
    return body;
  }

  it("401 without a credential, 401 for a malformed or unknown key", async () => {
    await expectError(await SELF.fetch("https://gw.test/external/v1/chat/completions", { method: "POST", body: chatBody() }), 401, "missing_api_key");
    await expectError(await post("/external/v1/chat/completions", "gk_nope", chatBody()), 401, "invalid_api_key");
    await expectError(await post("/internal/v1/chat/completions", "gst_nope", chatBody()), 401, "invalid_service_token");
    // a service token is not an API key and vice versa
    await expectError(await post("/external/v1/chat/completions", service.token, chatBody()), 401, "invalid_api_key");
    await expectError(await post("/internal/v1/chat/completions", tenant.apiKey, chatBody()), 401, "invalid_service_token");
  });

  it("400 for malformed JSON and invalid bodies, with the offending param", async () => {
    await expectError(await post("/external/v1/chat/completions", tenant.apiKey, "{not json"), 400, "invalid_json");
    const body = await expectError(await post("/external/v1/chat/completions", tenant.apiKey, JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "wizard", content: "x" }] })), 400, "invalid_request");
    expect(body.error.param).toMatch(/^messages/);
    const b2 = await expectError(await post("/external/v1/chat/completions", tenant.apiKey, JSON.stringify({ model: "mock-openai-chat", messages: [] })), 400, "invalid_request");
    expect(b2.error.param).toBe("messages");
  });

  it("404 for an unknown model and an unknown route", async () => {
    const body = await expectError(await post("/external/v1/chat/completions", tenant.apiKey, chatBody({ model: "no-such-model" })), 404, "model_not_found");
    expect(body.error.param).toBe("model");
    await expectError(await SELF.fetch("https://gw.test/external/v1/nowhere"), 404, "not_found");
  });

  it("413 for a body over the limit, declared or not", async () => {
    const big = chatBody({ padding: "x".repeat(1_100_000) });
    await expectError(await post("/external/v1/chat/completions", tenant.apiKey, big), 413, "request_too_large");
  });

  it("400 for a key in the query string, before any lookup", async () => {
    const res = await SELF.fetch(`https://gw.test/external/v1/chat/completions?api_key=${tenant.apiKey}`, { method: "POST", body: chatBody() });
    const body = await expectError(res, 400, "api_key_in_query");
    expect(JSON.stringify(body)).not.toContain(tenant.apiKey);
  });
});
