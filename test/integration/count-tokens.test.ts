// POST /messages/count_tokens through the real Worker: exact from an Anthropic upstream (the same number
// the Messages answer then reports), the gateway's estimate otherwise (flagged), authenticated like any
// read (signatures over the body, revoked keys, scopes), Anthropic's error shape, and nothing billed.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createSigningFetch } from "../../src/client/signing-fetch";
import { PresetItemSchema } from "../../src/config/schemas";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "count-tokens";
const BROKEN = "count-tokens-broken";
const URL_EXTERNAL = "https://gw.test/external/v1/messages/count_tokens";
let tenant: SeededKey;

const request = (extra: Record<string, unknown> = {}) => ({
  model: "mock-anthropic-chat",
  system: "Be brief and exact",
  messages: [{ role: "user", content: "How many tokens are in this sentence right here?" }],
  ...extra,
});

function count(body: unknown, headers: Record<string, string> = { "x-api-key": tenant.apiKey }, url = URL_EXTERNAL) {
  return SELF.fetch(url, { method: "POST", headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers }, body: JSON.stringify(body) });
}

const guardOf = (t: SeededKey) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(t.tenantId)).snapshot();

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await mockScenario(BROKEN, { status: 500, error_message: "counting broke" });
  const broken = PresetItemSchema.parse({ ...mockPresets(BROKEN)[1], id: "broken-anthropic", model: "mock-anthropic-broken" });
  await seedPresets([...mockPresets(SCENARIO), broken]);
  tenant = await seedTenant({ key: { scopes: { models: ["mock-anthropic-chat", "mock-openai-chat", "mock-anthropic-broken"] } } });
});

describe("POST /messages/count_tokens", () => {
  it("is exact from an Anthropic upstream: the number its Messages answer then reports as input_tokens", async () => {
    const res = await count(request());
    expect(res.status).toBe(200);
    expect(res.headers.get("x-gateway-token-count")).toBe("exact");
    expect(res.headers.get("request-id")).toBe(res.headers.get("x-request-id"));
    const counted = (await res.json()) as { input_tokens: number };
    expect(Object.keys(counted)).toEqual(["input_tokens"]);
    const answer = await SELF.fetch("https://gw.test/external/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": tenant.apiKey },
      body: JSON.stringify({ ...request(), max_tokens: 16 }),
    });
    expect(counted.input_tokens).toBe(((await answer.json()) as any).usage.input_tokens);
  });

  it("sends the upstream the gateway's credential and the preset's model, never the client's key", async () => {
    await count(request());
    const sent = (await mockRequests(SCENARIO)).requests.findLast((r) => r.path.endsWith("/v1/messages/count_tokens"))!;
    expect(sent.headers["x-api-key"]).toBe(env.MOCK_API_KEY);
    expect(JSON.stringify(sent)).not.toContain(tenant.apiKey);
    expect(sent.body).toMatchObject({ model: "claude-mock", messages: [{ role: "user" }] });
    expect(Object.keys(sent.body as object).every((k) => ["model", "system", "messages", "tools", "tool_choice"].includes(k))).toBe(true);
  });

  it("is the gateway's estimate, flagged, for a model no Anthropic upstream serves, or when the upstream cannot count", async () => {
    for (const model of ["mock-openai-chat", "mock-anthropic-broken"]) {
      const res = await count(request({ model }));
      expect(res.status, model).toBe(200);
      expect(res.headers.get("x-gateway-token-count")).toBe("estimated");
      const short = ((await res.json()) as any).input_tokens;
      expect(short).toBeGreaterThan(5);
      const long = ((await (await count(request({ model, messages: [{ role: "user", content: "word ".repeat(500) }] }))).json()) as any).input_tokens;
      expect(long).toBeGreaterThan(short + 400);
    }
  });

  it("counts tools too", async () => {
    const tools = [{ name: "lookup", description: "Looks a thing up in a very large catalogue of things", input_schema: { type: "object", properties: { query: { type: "string" } } } }];
    const plain = ((await (await count(request({ model: "mock-openai-chat" }))).json()) as any).input_tokens;
    const withTools = ((await (await count(request({ model: "mock-openai-chat", tools }))).json()) as any).input_tokens;
    expect(withTools).toBeGreaterThan(plain + 10);
  });

  it("reserves and charges nothing", async () => {
    const before = await guardOf(tenant);
    for (let i = 0; i < 3; i++) expect((await count(request())).status).toBe(200);
    const after = await guardOf(tenant);
    expect(after).toMatchObject({ balanceMicros: before.balanceMicros, openHolds: 0 });
  });

  it.each([
    ["no credential", () => count(request(), {}), 401, "authentication_error"],
    ["an unknown model", () => count(request({ model: "nope" })), 404, "not_found_error"],
    ["a model outside the key's scopes", () => count(request({ model: "mock-azure-chat" })), 403, "permission_error"],
    ["a body without messages", () => count({ model: "mock-anthropic-chat" }), 400, "invalid_request_error"],
  ] as const)("%s: Anthropic's error shape", async (_name, send, status, type) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ type: "error", error: { type }, request_id: res.headers.get("request-id") });
  });

  it("checks a signed key's signature over the body, and refuses a revoked key", async () => {
    const signed = await seedTenant({ key: { signature: "required" } });
    const signing = createSigningFetch({ apiKey: signed.apiKey, signingSecret: signed.signingSecret, fetch: (input, init) => SELF.fetch(input as string, init) });
    const ok = await signing(URL_EXTERNAL, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${signed.apiKey}` }, body: JSON.stringify(request()) });
    expect(ok.status).toBe(200);
    const unsigned = await count(request(), { authorization: `Bearer ${signed.apiKey}` });
    expect(((await unsigned.json()) as any).error.details.error_code).toBe("missing_signature");
    const revoked = await seedTenant({ key: { status: "revoked" } });
    expect((await count(request(), { "x-api-key": revoked.apiKey })).status).toBe(403);
  });

  it("serves the internal channel with a service token", async () => {
    const service = await seedService();
    const res = await count(request(), { authorization: `Bearer ${service.token}` }, "https://gw.test/internal/v1/messages/count_tokens");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-gateway-token-count")).toBe("exact");
    const refused = await count(request(), { authorization: "Bearer gst_wrong" }, "https://gw.test/internal/v1/messages/count_tokens");
    expect(await refused.json()).toMatchObject({ type: "error", error: { type: "authentication_error" } });
  });
});
