// Admin API, tenants and credits, through the real Worker: create/list/read/update, validation,
// bans that apply at once (through the TenantGuard, even where KV caches are stale), idempotent top-ups.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { quotaRules } from "../../src/config/schemas";
import { clearConfigCache } from "../../src/config/store";
import { mockPresets, mockScenario } from "../fixtures/seed";
import { admin, call, createKey, createTenant, expectErrorShape } from "./admin-helpers";

const SCENARIO = "admin-tenants";
const guard = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));

function chat(apiKey: string) {
  return SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 16 }),
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  const presets = await admin("PUT", "/presets", { items: mockPresets(SCENARIO) });
  expect(presets.status).toBe(200);
});

describe("POST /admin/v1/tenants", () => {
  it("creates a tenant with defaults filled in and stores it under tenant:<id> with an index entry", async () => {
    const res = await admin("POST", "/tenants", { name: "  Acme  " });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "Acme", status: "active", ip_allowlist: [], quotas: [], weight: 1, time_zone: "UTC", version: 1 });
    expect(res.body.id).toMatch(/^ten_[0-9A-Za-z]{20}$/);
    expect(res.body.fail_policy).toEqual({ rate_limit: "open", balance: "closed" });
    const stored = await env.CONFIG_KV.get(kvKeys.tenant(res.body.id), "json");
    expect(stored).toMatchObject({ id: res.body.id, name: "Acme", status: "active", version: 1 });
    expect(await env.CONFIG_KV.get(kvKeys.tenantIndex(res.body.id), "json")).toMatchObject({ id: res.body.id });
  });

  it("accepts limits, quotas (with derived ids), allowlists, weight, time zone and failure policy", async () => {
    const res = await admin("POST", "/tenants", {
      name: "Full",
      ip_allowlist: ["203.0.113.0/24", "2001:db8::/32", "::ffff:198.51.100.7"],
      rate_limits: { requests_per_minute: 60, tokens_per_minute: 100_000 },
      ip_rate_limits: { requests_per_minute: 10 },
      quotas: [
        { type: "tokens", period: "daily", limit: 1000 },
        { type: "requests", period: "monthly", limit: 50, capability: "embeddings" },
      ],
      weight: 3,
      time_zone: "Asia/Shanghai",
      fail_policy: { rate_limit: "closed" },
    });
    expect(res.status).toBe(201);
    expect(res.body.quotas).toEqual([
      { id: "tokens-daily-all", type: "tokens", period: "daily", limit: 1000 },
      { id: "requests-monthly-embeddings", type: "requests", period: "monthly", limit: 50, capability: "embeddings" },
    ]);
    expect(res.body).toMatchObject({ weight: 3, time_zone: "Asia/Shanghai", fail_policy: { rate_limit: "closed", balance: "closed" } });
    expect(res.body.rate_limits).toEqual({ requests_per_minute: 60, tokens_per_minute: 100_000 });
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ["a missing name", {}, "name"],
    ["an empty name", { name: "   " }, "name"],
    ["a misspelt field", { name: "x", ip_alowlist: [] }, "ip_alowlist"],
    ["a bad CIDR", { name: "x", ip_allowlist: ["10.0.0.0/8", "10.0.0.0/33"] }, "ip_allowlist.1"],
    ["a CIDR with a zone id", { name: "x", ip_allowlist: ["fe80::1%eth0"] }, "ip_allowlist.0"],
    ["a negative rate limit", { name: "x", rate_limits: { requests_per_minute: -1 } }, "rate_limits.requests_per_minute"],
    ["a fractional limit", { name: "x", rate_limits: { tokens_per_minute: 1.5 } }, "rate_limits.tokens_per_minute"],
    ["a duplicate quota", { name: "x", quotas: [{ type: "cost", period: "daily", limit: 1 }, { type: "cost", period: "daily", limit: 2 }] }, "quotas.1"],
    ["an unknown quota period", { name: "x", quotas: [{ type: "cost", period: "hourly", limit: 1 }] }, "quotas.0.period"],
    ["an unknown time zone", { name: "x", time_zone: "Mars/Olympus" }, "time_zone"],
    ["a zero weight", { name: "x", weight: 0 }, "weight"],
  ];
  for (const [what, body, param] of invalid) {
    it(`rejects ${what} with 400 invalid_request naming ${param}`, async () => {
      const res = await admin("POST", "/tenants", body);
      expect(res.status).toBe(400);
      expectErrorShape(res);
      expect(res.body.error).toMatchObject({ code: "invalid_request", type: "invalid_request_error", param });
    });
  }

  it("rejects malformed JSON with 400 invalid_json and a non-JSON content type with 415", async () => {
    const bad = await call("POST", "/admin/v1/tenants", { raw: '{"name": "x"' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_json");
    const text = await call("POST", "/admin/v1/tenants", { raw: '{"name":"x"}', headers: { "content-type": "text/plain" } });
    expect(text.status).toBe(415);
    expectErrorShape(text);
  });
});

describe("GET /admin/v1/tenants", () => {
  it("pages through every tenant with limit and cursor, without repeats", async () => {
    const created = new Set<string>();
    for (let i = 0; i < 5; i++) created.add((await createTenant({ name: `page-${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await admin("GET", `/tenants?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((t: { id: string }) => t.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor && pages < 50);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
  });

  it("rejects a limit out of range and a cursor KV does not know", async () => {
    expect((await admin("GET", "/tenants?limit=0")).body.error.param).toBe("limit");
    expect((await admin("GET", "/tenants?limit=101")).body.error.param).toBe("limit");
    const res = await admin("GET", "/tenants?cursor=not-a-cursor");
    expect(res.status).toBe(400);
    expect(res.body.error.param).toBe("cursor");
  });
});

describe("GET /admin/v1/tenants/{id}", () => {
  it("shows the balance and each quota's usage from the tenant's Durable Object", async () => {
    const tenant = await createTenant({ quotas: [{ type: "tokens", period: "daily", limit: 1000 }, { type: "requests", period: "never", limit: 5 }] });
    await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 2_500_000, idempotency_key: "first" });
    // Spend through the guard exactly as the gateway's admission does, with the rules the admin API stored.
    const admitted = await guard(tenant.id).admit({
      requestId: "req-quota-1",
      keyId: "key_x",
      channel: "external",
      capability: "chat",
      clientIp: null,
      limits: {},
      quotas: quotaRules("tenant", tenant.quotas),
      estimate: { tokens: 120, costMicros: 500_000 },
      chargeBalance: true,
    });
    expect(admitted.ok).toBe(true);
    const res = await admin("GET", `/tenants/${tenant.id}`);
    expect(res.status).toBe(200);
    expect(res.body.balance_micros).toBe(2_500_000);
    expect(res.body.held_micros).toBe(500_000);
    const usage = Object.fromEntries(res.body.quota_usage.map((u: { id: string; used: number }) => [u.id, u.used]));
    expect(usage).toEqual({ "tokens-daily-all": 120, "requests-never-all": 1 });
  });

  it("answers 404 for an unknown id and 400 for an id that could not be one", async () => {
    const unknown = await admin("GET", "/tenants/ten_doesnotexist000000000");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
    const bad = await admin("GET", "/tenants/ten%3Aevil");
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe("id");
  });
});

describe("PATCH /admin/v1/tenants/{id}", () => {
  it("updates fields, clears with null, keeps the rest and bumps the version", async () => {
    const tenant = await createTenant({ ip_allowlist: ["10.0.0.0/8"], rate_limits: { requests_per_minute: 5 } });
    const res = await admin("PATCH", `/tenants/${tenant.id}`, { name: "Renamed", ip_allowlist: null, fail_policy: { balance: "open" } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "Renamed", ip_allowlist: [], rate_limits: { requests_per_minute: 5 }, version: 2 });
    expect(res.body.fail_policy).toEqual({ rate_limit: "open", balance: "open" });
    expect(res.body.updated_at).not.toBeNull();
    const stored = (await env.CONFIG_KV.get(kvKeys.tenant(tenant.id), "json")) as Record<string, unknown>;
    expect(stored.ip_allowlist).toBeUndefined();
    expect(stored.version).toBe(2);
  });

  it("rejects an empty patch, an unknown status and unknown ids", async () => {
    const tenant = await createTenant();
    expect((await admin("PATCH", `/tenants/${tenant.id}`, {})).status).toBe(400);
    expect((await admin("PATCH", `/tenants/${tenant.id}`, { status: "deleted" })).body.error.param).toBe("status");
    expect((await admin("PATCH", "/tenants/ten_nope", { name: "x" })).status).toBe(404);
  });

  it("a ban applies on the very next request, through the Durable Object even where KV is stale", async () => {
    const tenant = await createTenant();
    await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 10_000_000, idempotency_key: "fund" });
    const key = await createKey(tenant.id, { signature: "optional" });
    expect((await chat(key.key)).status).toBe(200);

    const staleRecord = await env.CONFIG_KV.get(kvKeys.tenant(tenant.id));
    const ban = await admin("PATCH", `/tenants/${tenant.id}`, { status: "banned" });
    expect(ban.status).toBe(200);
    expect(ban.body.status).toBe("banned");
    expect((await guard(tenant.id).snapshot()).tenantStatus).toBe("banned");
    const refused = await chat(key.key);
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe("tenant_banned");

    // Another isolate may still hold the active record for up to the cache TTL: the guard refuses anyway.
    await env.CONFIG_KV.put(kvKeys.tenant(tenant.id), staleRecord!);
    clearConfigCache();
    const stillRefused = await chat(key.key);
    expect(stillRefused.status).toBe(403);
    expect(((await stillRefused.json()) as any).error.code).toBe("tenant_banned");
    expect((await admin("GET", `/tenants/${tenant.id}`)).body.status).toBe("banned");

    const unban = await admin("PATCH", `/tenants/${tenant.id}`, { status: "active" });
    expect(unban.body.status).toBe("active");
    expect((await chat(key.key)).status).toBe(200);
  });
});

describe("POST /admin/v1/tenants/{id}/credits", () => {
  it("applies an idempotency key once, however often it is sent", async () => {
    const tenant = await createTenant();
    const first = await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 1_000_000, idempotency_key: "topup-1" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ applied: true, balance_micros: 1_000_000, tenant_id: tenant.id });
    const again = await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 1_000_000, idempotency_key: "topup-1" });
    expect(again.body).toMatchObject({ applied: false, balance_micros: 1_000_000 });
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, () => admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 250_000, idempotency_key: "topup-2" })),
    );
    expect(concurrent.filter((r) => r.body.applied).length).toBe(1);
    expect((await admin("GET", `/tenants/${tenant.id}`)).body.balance_micros).toBe(1_250_000);
  });

  it("rejects non-positive, fractional and unsafe amounts, bad keys and unknown tenants", async () => {
    const tenant = await createTenant();
    for (const amount of [0, -5, 1.5, 2 ** 53]) {
      const res = await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: amount, idempotency_key: "k" });
      expect(res.status).toBe(400);
      expect(res.body.error.param).toBe("amount_micros");
    }
    for (const key of ["", "has space", "x".repeat(201), "ctl\u0001"]) {
      expect((await admin("POST", `/tenants/${tenant.id}/credits`, { amount_micros: 1, idempotency_key: key })).body.error.param).toBe("idempotency_key");
    }
    expect((await admin("POST", "/tenants/ten_unknown/credits", { amount_micros: 1, idempotency_key: "k" })).status).toBe(404);
    expect((await admin("GET", `/tenants/${tenant.id}`)).body.balance_micros).toBe(0);
  });
});
