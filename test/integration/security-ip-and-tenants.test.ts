// IP allowlists, tenant bans, tenant isolation (billing) and scopes on the external channel, through the real Worker.
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ApiKeyRecord, TenantRecord } from "../../src/config/schemas";
import { signRequest } from "../../src/security/signature";
import { eventsOf } from "../../queues/messages";
import { mockPresets, mockScenario, seedKey, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "sec-ip-tenants";
const BASE = "https://gw.test/external/v1";
const CHAT = `${BASE}/chat/completions`;

const chatBody = (model = "mock-openai-chat") => JSON.stringify({ model, messages: [{ role: "user", content: "who pays" }] });
const guardOf = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));
const requiredKey = (tenant: Partial<TenantRecord> = {}, key: Partial<ApiKeyRecord> = {}) =>
  seedTenant({ tenant, key: { signature: "required", ...key } });

/** A signed request; `headers` are added after signing (none of them is signed). */
async function call(k: SeededKey, opts: { ip?: string; headers?: Record<string, string>; body?: string; url?: string; method?: string } = {}) {
  const method = opts.method ?? "POST";
  const url = opts.url ?? CHAT;
  const body = method === "GET" ? undefined : (opts.body ?? chatBody());
  const signed = await signRequest({ key: k.apiKey, secret: k.signingSecret, method, url, body });
  const headers: Record<string, string> = { ...signed, "content-type": "application/json", ...opts.headers };
  if (opts.ip !== undefined) headers["cf-connecting-ip"] = opts.ip;
  return SELF.fetch(url, { method, headers, body });
}

async function outcome(res: Response): Promise<string> {
  const body = (await res.json()) as any;
  return res.ok ? String(res.status) : `${res.status} ${body.error.code}`;
}

/** Settlement runs after the response (waitUntil): wait until the guard holds nothing open. */
async function settledSnapshot(tenantId: string) {
  const guard = guardOf(tenantId);
  return waitFor("no open hold", async () => {
    const snapshot = await guard.snapshot();
    return snapshot.openHolds === 0 && snapshot;
  });
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("IP allowlists (CF-Connecting-IP only)", () => {
  it("key-level IPv4 CIDR: inside 200, outside 403 ip_not_allowed, no address 403", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["10.0.0.0/8"] });
    expect(await outcome(await call(k, { ip: "10.20.30.40" }))).toBe("200");
    expect(await outcome(await call(k, { ip: "11.0.0.1" }))).toBe("403 ip_not_allowed");
    expect(await outcome(await call(k))).toBe("403 ip_not_allowed");
  });

  it("key-level IPv6 CIDR: inside 200 in any spelling, outside 403", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["2001:db8:abcd::/48"] });
    for (const ip of ["2001:db8:abcd:12::1", "2001:DB8:ABCD:0:0:0:0:1", "2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff"]) {
      expect(await outcome(await call(k, { ip })), ip).toBe("200");
    }
    for (const ip of ["2001:db8:abce::1", "::1", "10.0.0.1", "::ffff:10.0.0.1"]) {
      expect(await outcome(await call(k, { ip })), ip).toBe("403 ip_not_allowed");
    }
  });

  it("an allowlisted address only in X-Forwarded-For (or X-Real-IP, True-Client-IP, Forwarded) is 403 when CF-Connecting-IP is not allowed", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["10.0.0.0/8"] });
    const spoofs: Record<string, string>[] = [
      { "x-forwarded-for": "10.0.0.1" },
      { "x-forwarded-for": "10.0.0.1, 198.51.100.9" },
      { "x-real-ip": "10.0.0.1" },
      { "true-client-ip": "10.0.0.1" },
      { forwarded: "for=10.0.0.1" },
    ];
    for (const headers of spoofs) {
      expect(await outcome(await call(k, { ip: "198.51.100.9", headers })), JSON.stringify(headers)).toBe("403 ip_not_allowed");
      expect(await outcome(await call(k, { headers })), JSON.stringify(headers)).toBe("403 ip_not_allowed");
    }
  });

  it("IPv4-mapped IPv6 (::ffff:10.0.0.1) is treated as the IPv4 address", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["10.0.0.0/8"] });
    expect(await outcome(await call(k, { ip: "::ffff:10.0.0.1" }))).toBe("200");
    expect(await outcome(await call(k, { ip: "::ffff:a00:1" }))).toBe("200");
    expect(await outcome(await call(k, { ip: "::ffff:11.0.0.1" }))).toBe("403 ip_not_allowed");
    // ...and an allowlist entry written in the mapped form covers plain IPv4 callers.
    const mapped = await requiredKey({}, { ip_allowlist: ["::ffff:192.0.2.0/120"] });
    expect(await outcome(await call(mapped, { ip: "192.0.2.77" }))).toBe("200");
    expect(await outcome(await call(mapped, { ip: "192.0.3.77" }))).toBe("403 ip_not_allowed");
  });

  it("an unparsable or ambiguous CF-Connecting-IP never matches", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["10.0.0.0/8"] });
    for (const ip of ["010.0.0.1", "10.0.0.1, 10.0.0.2", "10.0.0.1:443", "[::ffff:10.0.0.1]", "10.0.0", "garbage", " "]) {
      expect(await outcome(await call(k, { ip })), JSON.stringify(ip)).toBe("403 ip_not_allowed");
    }
  });

  it("tenant-level allowlist applies to keys without one; with both, the address must pass both", async () => {
    const tenantOnly = await requiredKey({ ip_allowlist: ["192.0.2.0/24"] });
    expect(await outcome(await call(tenantOnly, { ip: "192.0.2.10" }))).toBe("200");
    expect(await outcome(await call(tenantOnly, { ip: "198.51.100.1" }))).toBe("403 ip_not_allowed");

    const both = await requiredKey({ ip_allowlist: ["192.0.2.0/24"] }, { ip_allowlist: ["192.0.2.128/25", "198.51.100.0/24"] });
    expect(await outcome(await call(both, { ip: "192.0.2.200" }))).toBe("200");
    expect(await outcome(await call(both, { ip: "192.0.2.5" }))).toBe("403 ip_not_allowed");
    expect(await outcome(await call(both, { ip: "198.51.100.1" }))).toBe("403 ip_not_allowed");

    const v6Tenant = await requiredKey({ ip_allowlist: ["2001:db8::/32"] });
    expect(await outcome(await call(v6Tenant, { ip: "2001:db8:1::1" }))).toBe("200");
    expect(await outcome(await call(v6Tenant, { ip: "2001:db9::1" }))).toBe("403 ip_not_allowed");
  });

  it("GET /models enforces the allowlist too", async () => {
    const k = await requiredKey({}, { ip_allowlist: ["10.0.0.0/8"] });
    expect(await outcome(await call(k, { method: "GET", url: `${BASE}/models`, ip: "10.0.0.1" }))).toBe("200");
    expect(await outcome(await call(k, { method: "GET", url: `${BASE}/models`, ip: "11.0.0.1", headers: { "x-forwarded-for": "10.0.0.1" } }))).toBe("403 ip_not_allowed");
  });
});

describe("banned tenants", () => {
  it("a tenant banned in KV is 403 tenant_banned", async () => {
    const k = await requiredKey({ status: "banned" });
    expect(await outcome(await call(k))).toBe("403 tenant_banned");
  });

  it("a ban set on the TenantGuard applies at once to every key of the tenant; lifting it restores access", async () => {
    const k = await requiredKey();
    const second = await seedKey(k.tenantId, { signature: "required" });
    expect(await outcome(await call(k))).toBe("200");
    await guardOf(k.tenantId).setTenantStatus("banned");
    expect(await outcome(await call(k))).toBe("403 tenant_banned");
    expect(await outcome(await call(second))).toBe("403 tenant_banned");
    await guardOf(k.tenantId).setTenantStatus("active");
    expect(await outcome(await call(second))).toBe("200");
  });
});

describe("tenant isolation: a key bills only its own tenant", () => {
  it("tenant-switching headers, query parameters and body fields are ignored: A pays, B's guard is untouched", async () => {
    const a = await requiredKey();
    const b = await requiredKey();
    // Requests' events leave in per-isolate batches (sendBatch); the spies call through to the real queues.
    const billing = vi.spyOn(env.BILLING_QUEUE, "sendBatch");
    const audit = vi.spyOn(env.AUDIT_QUEUE, "sendBatch");
    const bodies = (spy: typeof billing) => spy.mock.calls.flatMap(([batch]) => [...batch].flatMap((m) => eventsOf(m.body) ?? [m.body]));
    const bBefore = await settledSnapshot(b.tenantId);
    const aBefore = await settledSnapshot(a.tenantId);
    const switches: { headers?: Record<string, string>; url?: string; body?: string }[] = [
      { headers: { "x-tenant-id": b.tenantId } },
      { headers: { "x-gateway-tenant": b.tenantId, "openai-organization": b.tenantId, "openai-project": b.tenantId } },
      { headers: { "x-api-key": b.apiKey } },
      { url: `${CHAT}?tenant_id=${b.tenantId}&tenant=${b.tenantId}` },
      { body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "who pays" }], user: b.tenantId }) },
    ];
    for (const s of switches) expect(await outcome(await call(a, s)), JSON.stringify(s)).toBe("200");
    // A body field naming the tenant is not a forwarded field: refused before anything is held or billed.
    const refused = { body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "who pays" }], tenant_id: b.tenantId }) };
    expect(await outcome(await call(a, refused))).toBe("400 invalid_request");

    const aAfter = await settledSnapshot(a.tenantId);
    const bAfter = await settledSnapshot(b.tenantId);
    expect(aAfter.balanceMicros).toBeLessThan(aBefore.balanceMicros);
    expect(bAfter).toEqual(bBefore);

    // A batch may also carry events of earlier tests' requests (other tenants): look at A's and B's.
    const of = (spy: typeof billing, tenantId: string) => (bodies(spy) as { tenant_id: string | null; key_id: string | null }[]).filter((m) => m.tenant_id === tenantId);
    await vi.waitFor(() => expect(of(billing, a.tenantId).length).toBe(switches.length), { timeout: 3_000 });
    // The refused request is audited (against A) but never billed.
    await vi.waitFor(() => expect(of(audit, a.tenantId).length).toBe(switches.length + 1), { timeout: 3_000 });
    expect(of(billing, a.tenantId).every((m) => m.key_id === a.keyId)).toBe(true);
    expect(of(billing, b.tenantId)).toEqual([]);
    expect(of(audit, b.tenantId)).toEqual([]);
    expect(JSON.stringify(bodies(billing))).not.toContain(b.keyId);
  });

  it("A's key cannot spend B's balance even when A is empty: 402 on A, B's guard untouched", async () => {
    const a = await seedTenant({ key: { signature: "required" }, balanceMicros: 0 });
    const b = await requiredKey();
    const bBefore = await settledSnapshot(b.tenantId);
    expect(await outcome(await call(a, { headers: { "x-tenant-id": b.tenantId } }))).toBe("402 insufficient_balance");
    expect(await settledSnapshot(b.tenantId)).toEqual(bBefore);
  });
});

describe("scopes", () => {
  it("a key limited to embeddings calling chat is 403 scope_denied; embeddings work", async () => {
    const k = await requiredKey({}, { scopes: { capabilities: ["embeddings"] } });
    expect(await outcome(await call(k))).toBe("403 scope_denied");
    const embeddings = await call(k, { url: `${BASE}/embeddings`, body: JSON.stringify({ model: "mock-embed", input: "scoped" }) });
    expect(await outcome(embeddings)).toBe("200");
  });

  it("a key limited to mock-openai-chat calling mock-azure-chat is 403 scope_denied, and nothing is held", async () => {
    const k = await requiredKey({}, { scopes: { models: ["mock-openai-chat"] } });
    const before = await settledSnapshot(k.tenantId);
    expect(await outcome(await call(k, { body: chatBody("mock-azure-chat") }))).toBe("403 scope_denied");
    expect(await settledSnapshot(k.tenantId)).toEqual(before);
    expect(await outcome(await call(k))).toBe("200");
  });

  it("GET /models lists only the models the key may use", async () => {
    const ids = async (k: SeededKey) => {
      const res = await call(k, { method: "GET", url: `${BASE}/models` });
      expect(res.status).toBe(200);
      return ((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id).sort();
    };
    expect(await ids(await requiredKey({}, { scopes: { models: ["mock-openai-chat"] } }))).toEqual(["mock-openai-chat"]);
    expect(await ids(await requiredKey({}, { scopes: { capabilities: ["embeddings"] } }))).toEqual(["mock-embed"]);
    expect(await ids(await requiredKey({}, { scopes: { capabilities: ["chat"], models: ["mock-embed", "mock-azure-chat"] } }))).toEqual(["mock-azure-chat"]);
    expect(await ids(await requiredKey())).toEqual(["mock-anthropic-chat", "mock-azure-chat", "mock-embed", "mock-openai-chat"]);
  });
});
