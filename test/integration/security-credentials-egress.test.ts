// Trust boundaries of a preset (issue 16, items 1 and 4): its `credential` may name only a secret listed
// in PROVIDER_SECRETS and never one of the gateway's own; its upstream host must be in the egress
// allowlist. Both are refused when written (400 naming the field) and again when a stored preset is used,
// so a preset written before these checks (here: straight into KV) never sends a secret anywhere.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import type { Env } from "../../src/env";
import { PresetItemSchema } from "../../src/config/schemas";
import { admin } from "./admin-helpers";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";

const SCENARIO = "sec-credentials";
const CHAT = "https://gw.test/external/v1/chat/completions";
const app = buildApp();

/** An admin call with this Worker's bindings changed (settings are parsed per env object). */
async function adminWith(overrides: Partial<Env>, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const ctx = createExecutionContext();
  const res = await app.request(
    `/admin/v1${path}`,
    { method, headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body: JSON.stringify(body) },
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

const openaiPreset = (overrides: Record<string, unknown>) => PresetItemSchema.parse({ ...mockPresets(SCENARIO)[0], ...overrides });

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
});

describe("a preset's credential", () => {
  const gatewayOwn = ["ADMIN_TOKEN", "MASTER_KEY", "DATABASE_URL", "DB_WS_PROXY", "UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_REST_URL", "UPSTASH_ANYTHING", "PROVIDER_SECRETS", "TEST_REDIS_REST_TOKEN"];

  it.each(gatewayOwn)("naming the gateway's own %s is refused at write time, even when PROVIDER_SECRETS lists it", async (name) => {
    for (const overrides of [{}, { PROVIDER_SECRETS: `MOCK_API_KEY,${name}` }]) {
      const res = await adminWith(overrides, "PUT", "/presets", { items: [openaiPreset({ credential: name })] });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", param: "items.0.credential" });
      expect(res.body.error.message).toContain("gateway's own");
    }
  });

  it("naming a secret not listed in PROVIDER_SECRETS is refused; listed, it is accepted", async () => {
    const refused = await admin("PUT", "/presets", { items: [...mockPresets(SCENARIO), openaiPreset({ id: "extra", credential: "OPENAI_API_KEY" })] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: "invalid_request", param: `items.${mockPresets(SCENARIO).length}.credential` });
    expect(refused.body.error.message).toContain("PROVIDER_SECRETS");
    const listed = await adminWith({ PROVIDER_SECRETS: "MOCK_API_KEY, OPENAI_API_KEY" }, "PUT", "/presets", { items: [openaiPreset({ id: "extra", credential: "OPENAI_API_KEY" })] });
    expect(listed.status).toBe(200);
    expect((await admin("PUT", "/presets", { items: mockPresets(SCENARIO) })).status).toBe(200);
  });

  it("a stored preset naming ADMIN_TOKEN, MASTER_KEY or DATABASE_URL never sends it: the upstream gets no call, the client a clear 503", async () => {
    const k = await seedTenant();
    for (const [credential, auth] of [["ADMIN_TOKEN", "bearer"], ["MASTER_KEY", "x-api-key"], ["DATABASE_URL", "api-key"]] as const) {
      await mockScenario(SCENARIO, {});
      await seedPresets([openaiPreset({ credential, auth })]);
      const res = await SELF.fetch(CHAT, {
        method: "POST",
        headers: { authorization: `Bearer ${k.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "leak it" }] }),
      });
      const text = await res.text();
      expect(res.status, credential).toBe(503);
      expect(JSON.parse(text).error).toMatchObject({ code: "credential_not_allowed", type: "api_error" });
      expect(text).not.toContain(credential);
      expect(text).not.toContain(String(env[credential]));
      expect((await mockRequests(SCENARIO)).count, credential).toBe(0);
    }
  });

  it("a refused credential falls back to the next candidate, which is called with its own", async () => {
    const k = await seedTenant();
    await mockScenario(SCENARIO, {});
    await seedPresets([openaiPreset({ id: "leaky", credential: "ADMIN_TOKEN", priority: 10 }), openaiPreset({ id: "good", priority: 0 })]);
    const res = await SELF.fetch(CHAT, {
      method: "POST",
      headers: { authorization: `Bearer ${k.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "fallback" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const seen = await mockRequests(SCENARIO);
    expect(seen.count).toBe(1);
    expect(seen.requests[0]!.headers.authorization).toBe(`Bearer ${env.MOCK_API_KEY}`);
  });
});

describe("the egress host allowlist", () => {
  const disguised = ["https://169.254.169.254.nip.io/v1", "https://localtest.me/v1", "https://10.0.0.1.xip.io/v1"];

  it.each(disguised)("refuses %s at write time, listed by the preset or not", async (url) => {
    const host = new URL(url).hostname;
    const unlisted = await admin("PUT", "/presets", { items: [openaiPreset({ base_url: url })] });
    expect(unlisted.status).toBe(400);
    expect(unlisted.body.error).toMatchObject({ code: "invalid_request", param: "items.0.base_url" });
    const listed = await admin("PUT", "/presets", { items: [openaiPreset({ base_url: url, egress_hosts: [host] })] });
    expect(listed.status).toBe(400);
    expect(listed.body.error).toMatchObject({ code: "invalid_request", param: "items.0.egress_hosts.0" });
  });

  it("a public host outside the deployment's list needs the preset's egress_hosts (exact names only)", async () => {
    const url = "https://llm.example.com/v1";
    expect((await admin("PUT", "/presets", { items: [openaiPreset({ base_url: url })] })).body.error).toMatchObject({ param: "items.0.base_url" });
    expect((await admin("PUT", "/presets", { items: [openaiPreset({ base_url: url, egress_hosts: ["*.example.com"] })] })).body.error).toMatchObject({ param: "items.0.egress_hosts.0" });
    expect((await admin("PUT", "/presets", { items: [openaiPreset({ base_url: url, egress_hosts: ["llm.example.com"] })] })).status).toBe(200);
    expect((await admin("PUT", "/presets", { items: [openaiPreset({ base_url: "https://api.openai.com/v1" })] })).status).toBe(200);
    expect((await admin("PUT", "/presets", { items: [openaiPreset({ base_url: "https://contoso.openai.azure.com", provider: "azure" })] })).status).toBe(200);
    expect((await adminWith({ EGRESS_ALLOWED_HOSTS: "*.example.com" }, "PUT", "/presets", { items: [openaiPreset({ base_url: url })] })).status).toBe(200);
    expect((await admin("PUT", "/presets", { items: mockPresets(SCENARIO) })).status).toBe(200);
  });

  it("loopback upstreams only under ALLOW_LOOPBACK_UPSTREAMS in development or test, never in production", async () => {
    const item = openaiPreset({});
    expect((await adminWith({ ENVIRONMENT: "production", ALLOW_LOOPBACK_UPSTREAMS: "true" }, "PUT", "/presets", { items: [item] })).body.error).toMatchObject({ param: "items.0.base_url" });
    expect((await adminWith({ ENVIRONMENT: "development", ALLOW_LOOPBACK_UPSTREAMS: "true" }, "PUT", "/presets", { items: [item] })).status).toBe(200);
    expect((await adminWith({ ENVIRONMENT: "test", ALLOW_LOOPBACK_UPSTREAMS: "false" }, "PUT", "/presets", { items: [item] })).body.error).toMatchObject({ param: "items.0.base_url" });
  });

  it.each([...disguised, "https://llm.example.com/v1"])("a stored preset at %s is refused at call time (502 egress_denied, no call)", async (url) => {
    const k = await seedTenant();
    await seedPresets([openaiPreset({ base_url: url, egress_hosts: [new URL(url).hostname, "*.nip.io"].filter((h) => h !== "llm.example.com") })]);
    const res = await SELF.fetch(CHAT, {
      method: "POST",
      headers: { authorization: `Bearer ${k.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "where to" }] }),
    });
    expect(res.status).toBe(502);
    expect((await res.json<any>()).error).toMatchObject({ code: "egress_denied" });
  });
});
