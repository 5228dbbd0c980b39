// `allowed_origins` on API keys through the admin API: validated and stored in canonical form, shown
// in the key's view, and mirrored in the gateway-wide origin index that preflights are answered from
// (added before the record allows an origin, removed after it no longer does, and on revocation).
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvPrefixes } from "../../src/config/kv-keys";
import { admin, call, createKey, createTenant, expectErrorShape } from "./admin-helpers";

let tenantId: string;

async function indexedFor(keyId: string): Promise<string[]> {
  const page = await env.CONFIG_KV.list({ prefix: "corsorigin:" });
  return page.keys.map((k) => k.name).filter((name) => name.endsWith(` ${keyId}`)).map((name) => name.slice("corsorigin:".length, -keyId.length - 1)).sort();
}

beforeAll(async () => {
  tenantId = (await createTenant({ name: "Origins Ltd" })).id;
});

describe("allowed_origins on API keys", () => {
  it("is stored canonical and deduplicated, shown in the view, and indexed", async () => {
    const key = await createKey(tenantId, { allowed_origins: ["https://App.Example.com:443", "https://app.example.com", "https://*.Tenant.io", "http://localhost:5173"] });
    expect(key.allowed_origins).toEqual(["https://app.example.com", "https://*.tenant.io", "http://localhost:5173"]);
    const read = await admin("GET", `/tenants/${tenantId}/keys/${key.id}`);
    expect(read.body.allowed_origins).toEqual(key.allowed_origins);
    expect(await indexedFor(key.id)).toEqual(["http://localhost:5173", "https://*.tenant.io", "https://app.example.com"]);
    // The index entry names no secret, only which key allows the pattern.
    const entry = await env.CONFIG_KV.get(`${kvPrefixes.corsOrigin("https://app.example.com")}${key.id}`, "json");
    expect(entry).toEqual({ tenant_id: tenantId, key_id: key.id });
  });

  it("a key without origins shows an empty list and indexes nothing", async () => {
    const key = await createKey(tenantId);
    expect(key.allowed_origins).toEqual([]);
    expect(await indexedFor(key.id)).toEqual([]);
  });

  it.each([["*"], ["https://*.com"], ["https://app.example.com/path"], ["app.example.com"], ["null"]])("refuses %j with a 400 naming the field", async (bad) => {
    const res = await admin("POST", `/tenants/${tenantId}/keys`, { allowed_origins: ["https://ok.example.com", bad] });
    expect(res.status).toBe(400);
    expectErrorShape(res);
    expect(res.body.error.param).toContain("allowed_origins");
  });

  it("PATCH replaces the list: gained origins are indexed, lost ones dropped; null clears it", async () => {
    const key = await createKey(tenantId, { allowed_origins: ["https://a.example.com", "https://b.example.com"] });
    const patched = await admin("PATCH", `/tenants/${tenantId}/keys/${key.id}`, { allowed_origins: ["https://b.example.com", "https://c.example.com"] });
    expect(patched.status).toBe(200);
    expect(patched.body.allowed_origins).toEqual(["https://b.example.com", "https://c.example.com"]);
    expect(await indexedFor(key.id)).toEqual(["https://b.example.com", "https://c.example.com"]);
    const cleared = await admin("PATCH", `/tenants/${tenantId}/keys/${key.id}`, { allowed_origins: null });
    expect(cleared.body.allowed_origins).toEqual([]);
    expect(await indexedFor(key.id)).toEqual([]);
  });

  it("revoking a key drops its origins from the index, and another key's entries for the same origin stay", async () => {
    const one = await createKey(tenantId, { allowed_origins: ["https://shared.example.com"] });
    const two = await createKey(tenantId, { allowed_origins: ["https://shared.example.com"] });
    expect((await admin("POST", `/tenants/${tenantId}/keys/${one.id}/revoke`)).status).toBe(200);
    expect(await indexedFor(one.id)).toEqual([]);
    expect(await indexedFor(two.id)).toEqual(["https://shared.example.com"]);
  });
});

describe("a browser request is checked against its key's allowed_origins", () => {
  const models = (apiKey: string, origin?: string) =>
    call("GET", "/external/v1/models", { token: apiKey, headers: origin ? { origin } : {} });

  it("a key with no origins refuses every browser origin; requests without Origin are unaffected", async () => {
    const key = await createKey(tenantId, { signature: "optional" });
    expect((await models(key.key)).status).toBe(200);
    // Same-origin (the gateway's own page) is no cross-origin call.
    expect((await models(key.key, "https://gw.test")).status).toBe(200);
    for (const origin of ["https://app.example.com", "null"]) {
      const refused = await models(key.key, origin);
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe("origin_not_allowed");
    }
  });

  it("a key with origins accepts those (exact or by subdomain pattern) and refuses others", async () => {
    const key = await createKey(tenantId, { signature: "optional", allowed_origins: ["https://app.example.com", "https://*.tenant.io"] });
    for (const origin of ["https://app.example.com", "https://x.tenant.io"]) expect((await models(key.key, origin)).status).toBe(200);
    for (const origin of ["https://evil.example.com", "https://tenant.io", "http://app.example.com"]) {
      expect((await models(key.key, origin)).body.error.code).toBe("origin_not_allowed");
    }
  });
});
