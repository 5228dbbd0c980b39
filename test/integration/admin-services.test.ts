// Admin API, internal service tokens, provider presets, prompt templates and global limits,
// through the real Worker: shown-once tokens, revocation, SSRF-proof presets, versioned templates.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { clearConfigCache } from "../../src/config/store";
import { hashApiKey, isWellFormedServiceToken } from "../../src/security/api-keys";
import { mockPresets, mockScenario } from "../fixtures/seed";
import { admin } from "./admin-helpers";

const SCENARIO = "admin-services";

function internalChat(token: string, body: Record<string, unknown> = {}) {
  return SELF.fetch("https://gw.test/internal/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 16, ...body }),
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  expect((await admin("PUT", "/presets", { items: mockPresets(SCENARIO) })).status).toBe(200);
});

describe("services", () => {
  it("creates a token shown once, stored under its hash, usable on the internal channel", async () => {
    const created = await admin("POST", "/services", { name: "billing-bot", scopes: { capabilities: ["chat"] }, rate_limits: { requests_per_minute: 600 } });
    expect(created.status).toBe(201);
    expect(isWellFormedServiceToken(created.body.token)).toBe(true);
    expect(created.body).toMatchObject({ name: "billing-bot", status: "active", prefix: created.body.token.slice(0, 8), version: 1 });
    expect(await env.CONFIG_KV.get(kvKeys.serviceByHash(await hashApiKey(created.body.token)), "json")).toMatchObject({ id: created.body.id });
    expect((await internalChat(created.body.token)).status).toBe(200);

    const read = await admin("GET", `/services/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.text).not.toContain(created.body.token);
    const listed = await admin("GET", "/services?limit=100");
    expect(listed.body.data.map((s: { id: string }) => s.id)).toContain(created.body.id);
    expect(listed.text).not.toContain(created.body.token);
  });

  it("updates and revokes; a revoked token is refused at once, even through a stale cached record", async () => {
    const { body: service } = await admin("POST", "/services", { name: "temp" });
    const patched = await admin("PATCH", `/services/${service.id}`, { name: "renamed", rate_limits: { tokens_per_minute: 1000 } });
    expect(patched.body).toMatchObject({ name: "renamed", rate_limits: { tokens_per_minute: 1000 }, version: 2 });
    const hash = await hashApiKey(service.token);
    const stale = await env.CONFIG_KV.get(kvKeys.serviceByHash(hash));

    const revoked = await admin("POST", `/services/${service.id}/revoke`);
    expect(revoked.body.status).toBe("revoked");
    const refused = await internalChat(service.token);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("key_revoked");
    const guard = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(service.id));
    expect((await guard.snapshot()).keys[service.id]?.status).toBe("revoked");

    expect((await admin("PATCH", `/services/${service.id}`, { name: "again" })).status).toBe(409);

    await env.CONFIG_KV.put(kvKeys.serviceByHash(hash), stale!);
    clearConfigCache();
    expect((await internalChat(service.token)).status).toBe(403);
  });

  it("400 for bad input, 404 for unknown ids", async () => {
    expect((await admin("POST", "/services", {})).body.error.param).toBe("name");
    expect((await admin("POST", "/services", { name: "x", token: "gst_mine" })).body.error.param).toBe("token");
    expect((await admin("GET", "/services/svc_unknown")).status).toBe(404);
    expect((await admin("POST", "/services/svc_unknown/revoke")).status).toBe(404);
    expect((await admin("PATCH", "/services/svc_unknown", { name: "x" })).status).toBe(404);
  });
});

describe("presets", () => {
  it("replaces the document and bumps its version; the gateway routes with it", async () => {
    const before = await admin("GET", "/presets");
    const put = await admin("PUT", "/presets", { items: mockPresets(SCENARIO).slice(0, 1) });
    expect(put.status).toBe(200);
    expect(put.body.version).toBe(before.body.version + 1);
    expect(put.body.items.map((p: { id: string }) => p.id)).toEqual([`${SCENARIO}-openai`]);
    expect((await admin("GET", "/presets")).body.version).toBe(put.body.version);
    await admin("PUT", "/presets", { items: mockPresets(SCENARIO) });
  });

  const ssrf = [
    "http://169.254.169.254/latest/meta-data",
    "https://10.0.0.1/v1",
    "https://[::ffff:10.0.0.1]/v1",
    "https://0xa9.0xfe.0xa9.0xfe/latest",
    "https://167772161/v1",
    "https://0300.0250.0.1/v1",
    "https://metadata.google.internal/v1",
    "file:///etc/passwd",
    "gopher://example.com/",
    "https://api.example.com:8443/v1",
    "http://api.example.com/v1",
  ];
  for (const url of ssrf) {
    it(`refuses an upstream at ${url}`, async () => {
      const items = mockPresets(SCENARIO);
      items[1] = { ...items[1]!, base_url: url };
      const res = await admin("PUT", "/presets", { items });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: "invalid_request", param: "items.1.base_url" });
    });
  }

  it("refuses duplicate ids and unknown providers, and keeps the stored document", async () => {
    const stored = (await admin("GET", "/presets")).body.version;
    const items = mockPresets(SCENARIO);
    expect((await admin("PUT", "/presets", { items: [...items, items[0]] })).body.error.param).toBe(`items.${items.length}.id`);
    expect((await admin("PUT", "/presets", { items: [{ ...items[0], provider: "cohere" }] })).body.error.param).toBe("items.0.provider");
    expect((await admin("GET", "/presets")).body.version).toBe(stored);
  });
});

describe("templates", () => {
  it("each PUT stores the next version; latest and every version stay readable; the gateway renders it", async () => {
    const v1 = await admin("PUT", "/templates/greeting", { engine: "simple_replace", messages: [{ role: "system", content: "Hello {{name}}" }] });
    expect(v1.status).toBe(201);
    expect(v1.body).toMatchObject({ name: "greeting", version: 1 });
    const v2 = await admin("PUT", "/templates/greeting", {
      engine: "jinja",
      messages: [{ role: "system", content: "{% if vip %}Dear {{ name | upper }}{% else %}Hi {{ name }}{% endif %}" }],
    });
    expect(v2.body.version).toBe(2);
    expect((await admin("GET", "/templates/greeting")).body).toMatchObject({ version: 2, engine: "jinja" });
    expect((await admin("GET", "/templates/greeting/versions/1")).body).toMatchObject({ version: 1, engine: "simple_replace" });
    expect((await admin("GET", "/templates/greeting/versions/3")).status).toBe(404);
    expect((await admin("GET", "/templates/nothing-here")).status).toBe(404);

    const { body: service } = await admin("POST", "/services", { name: "templated" });
    const res = await internalChat(service.token, { messages: [], template: { name: "greeting" }, variables: { name: "ada", vip: true } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).choices[0].message.content).toContain("Dear ADA");
  });

  it("a broken Jinja template is a 400 at write time, naming the message", async () => {
    const res = await admin("PUT", "/templates/broken", {
      engine: "jinja",
      messages: [{ role: "system", content: "fine" }, { role: "user", content: "{% if x %}never closed" }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("messages.1.content");
    expect((await admin("GET", "/templates/broken")).status).toBe(404);
  });

  it("rejects bad names, engines, roles and versions", async () => {
    const ok = { engine: "simple_replace", messages: [{ role: "system", content: "x" }] };
    expect((await admin("PUT", "/templates/Bad:Name", ok)).body.error.param).toBe("name");
    expect((await admin("PUT", "/templates/t1", { ...ok, engine: "mustache" })).body.error.param).toBe("engine");
    expect((await admin("PUT", "/templates/t1", { ...ok, messages: [{ role: "tool", content: "x" }] })).body.error.param).toBe("messages.0.role");
    expect((await admin("PUT", "/templates/t1", { ...ok, messages: [] })).body.error.param).toBe("messages");
    expect((await admin("GET", "/templates/t1/versions/0")).body.error.param).toBe("version");
  });
});

describe("global limits", () => {
  it("stores per-channel limits with a version", async () => {
    expect((await admin("GET", "/limits/global")).body).toMatchObject({ version: 0, external: {}, internal: {} });
    const put = await admin("PUT", "/limits/global", { external: { requests_per_minute: 6000 }, internal: { tokens_per_minute: 1_000_000 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ version: 1, external: { requests_per_minute: 6000 }, internal: { tokens_per_minute: 1_000_000 } });
    expect(await env.CONFIG_KV.get(kvKeys.globalLimits(), "json")).toMatchObject({ version: 1 });
    expect((await admin("PUT", "/limits/global", { external: { requests_per_minute: 0 } })).body.error.param).toBe("external.requests_per_minute");
  });
});
