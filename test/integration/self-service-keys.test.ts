// Tenant self-service at /external/v1/keys through the real Worker: only a key holding keys:manage, signed
// like any external call (the body included); settings never beyond the tenant's limits or the caller's own
// scopes, and nothing written when refused; never another tenant's keys; revocation at once; audited.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AuditMessage } from "../../queues/messages";
import { buildApp } from "../../src/app";
import { signRequest } from "../../src/security/signature";
import { admin, createKey, createTenant } from "./admin-helpers";

const app = buildApp();
const audits: AuditMessage[] = [];
const testEnv = {
  ...env,
  AUDIT_QUEUE: { send: async (body: unknown) => void audits.push(structuredClone(body) as AuditMessage), sendBatch: async () => {} } as unknown as Queue<unknown>,
};
const INSIDE = "203.0.113.5";

interface Key {
  id: string;
  key: string;
  signing_secret: string;
}

interface Reply {
  status: number;
  body: any;
}

/** A signed call as the tenant's SDK would make it; `tamper` changes the body after signing. */
async function selfService(k: Key, method: string, path: string, body?: unknown, opts: { tamper?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const url = `https://gw.test/external/v1${path}`;
  const text = body === undefined ? "" : JSON.stringify(body);
  const signed = await signRequest({ key: k.key, secret: k.signing_secret, method, url, body: text });
  const headers: Record<string, string> = { ...signed, "cf-connecting-ip": INSIDE, ...opts.headers };
  if (body !== undefined) headers["content-type"] = "application/json";
  const ctx = createExecutionContext();
  const res = await app.request(url, { method, headers, body: body === undefined ? undefined : (opts.tamper ?? text) }, testEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json().catch(() => null) };
}

let tenant: { id: string };
let manager: Key;
let plain: Key;
let other: { tenant: string; key: Key };

beforeAll(async () => {
  tenant = await createTenant({
    name: "Self-served",
    ip_allowlist: ["203.0.113.0/24", "2001:db8::/32"],
    rate_limits: { requests_per_minute: 100, tokens_per_minute: 10_000 },
    max_concurrent_requests: 5,
    quotas: [{ type: "cost", period: "monthly", limit: 1_000 }],
  });
  manager = await createKey(tenant.id, { name: "manager", scopes: { capabilities: ["chat"], models: ["mock-openai-chat", "mock-embed"], permissions: ["keys:manage"] } });
  plain = await createKey(tenant.id, { name: "plain" });
  const otherTenant = await createTenant({ name: "Other" });
  other = { tenant: otherTenant.id, key: await createKey(otherTenant.id, { name: "theirs", scopes: { permissions: ["keys:manage"] } }) };
});

describe("who may manage keys", () => {
  it("a key without keys:manage is refused on every route (403 insufficient_role)", async () => {
    for (const [method, path, body] of [
      ["GET", "/keys"],
      ["POST", "/keys", {}],
      ["GET", `/keys/${plain.id}`],
      ["PATCH", `/keys/${plain.id}`, { name: "x" }],
      ["POST", `/keys/${plain.id}/rotate`, {}],
      ["POST", `/keys/${plain.id}/revoke`],
    ] as const) {
      const res = await selfService(plain, method, path, body);
      expect({ path, method, status: res.status, code: res.body?.error?.code }).toEqual({ path, method, status: 403, code: "insufficient_role" });
    }
  });

  it("the body is signed: changed after signing it is 401, and a replayed nonce is 401", async () => {
    const tampered = await selfService(manager, "POST", "/keys", { name: "a" }, { tamper: JSON.stringify({ name: "a", scopes: { models: ["x"] } }) });
    expect({ status: tampered.status, code: tampered.body.error.code }).toEqual({ status: 401, code: "invalid_signature" });
    const url = "https://gw.test/external/v1/keys";
    const headers = { ...(await signRequest({ key: manager.key, secret: manager.signing_secret, method: "GET", url, body: "" })), "cf-connecting-ip": INSIDE };
    expect((await app.request(url, { headers }, testEnv, createExecutionContext())).status).toBe(200);
    expect((await app.request(url, { headers }, testEnv, createExecutionContext())).status).toBe(401);
  });

  it("the tenant's IP allowlist holds for the manager too", async () => {
    const res = await selfService(manager, "GET", "/keys", undefined, { headers: { "cf-connecting-ip": "198.51.100.1" } });
    expect(res.status).toBe(403);
  });
});

describe("within the tenant's limits", () => {
  it("creates a key within them; scopes default to the manager's own", async () => {
    const res = await selfService(manager, "POST", "/keys", {
      name: "worker",
      ip_allowlist: ["203.0.113.64/26"],
      allowed_origins: ["https://app.example.com"],
      rate_limits: { requests_per_minute: 100 },
      max_concurrent_requests: 5,
      quotas: [{ type: "cost", period: "monthly", limit: 1_000 }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ tenant_id: tenant.id, name: "worker", scopes: { capabilities: ["chat"], models: ["mock-openai-chat", "mock-embed"] }, allowed_origins: ["https://app.example.com"] });
    expect(res.body.scopes.permissions).toBeUndefined();
    expect(res.body.key).toMatch(/^gk_/);
    const created = audits.find((a) => a.meta.action === "api_key.create" && a.meta.resource_id === res.body.id);
    expect(created).toMatchObject({ tenant_id: tenant.id, meta: { actor: "tenant_key", actor_key_id: manager.id, via: "self_service" } });
    expect(JSON.stringify(audits)).not.toContain(res.body.key);
  });

  it("refuses every setting beyond the tenant's limits or the manager's scopes, naming the field, and writes nothing", async () => {
    const before = (await selfService(manager, "GET", "/keys?limit=100")).body.data.length;
    const cases: [Record<string, unknown>, string][] = [
      [{ rate_limits: { requests_per_minute: 101 } }, "rate_limits.requests_per_minute"],
      [{ rate_limits: { tokens_per_minute: 10_001 } }, "rate_limits.tokens_per_minute"],
      [{ max_concurrent_requests: 6 }, "max_concurrent_requests"],
      [{ quotas: [{ type: "cost", period: "monthly", limit: 1_001 }] }, "quotas.0.limit"],
      [{ ip_allowlist: ["198.51.100.0/24"] }, "ip_allowlist.0"],
      [{ ip_allowlist: ["203.0.0.0/16"] }, "ip_allowlist.0"],
      [{ ip_allowlist: ["203.0.113.0/24", "2001:db9::/48"] }, "ip_allowlist.1"],
      [{ ip_allowlist: [] }, "ip_allowlist"],
      [{ scopes: { capabilities: ["embeddings"] } }, "scopes.capabilities"],
      [{ scopes: { models: ["gpt-4o"] } }, "scopes.models"],
      // The tenant's response cache is off: a key may not turn it on for itself.
      [{ cache: { enabled: true } }, "cache.enabled"],
    ];
    for (const [settings, param] of cases) {
      const res = await selfService(manager, "POST", "/keys", { name: "too much", ...settings });
      expect({ param, status: res.status, code: res.body.error.code, got: res.body.error.param }).toEqual({ param, status: 400, code: "invalid_request", got: param });
    }
    expect((await selfService(manager, "GET", "/keys?limit=100")).body.data.length).toBe(before);
    // The same bounds on update, and the key is unchanged.
    for (const [settings, param] of cases.slice(0, 5)) {
      const res = await selfService(manager, "PATCH", `/keys/${plain.id}`, settings);
      expect({ param, status: res.status, got: res.body.error.param }).toEqual({ param, status: 400, got: param });
    }
    const unchanged = await selfService(manager, "GET", `/keys/${plain.id}`);
    expect(unchanged.body).toMatchObject({ version: 1, rate_limits: {}, ip_allowlist: [] });
  });

  it("a key's response cache stays within the tenant's: off always, on only as the tenant has it or narrower", async () => {
    const off = await selfService(manager, "POST", "/keys", { name: "no cache", cache: { enabled: false } });
    expect(off.status).toBe(201);
    expect(off.body.cache).toEqual({ enabled: false });
    const cached = await createTenant({ name: "Cached", ip_allowlist: ["203.0.113.0/24"], cache: { enabled: true, ttl_s: 60 } });
    const cachedManager: Key = await createKey(cached.id, { name: "manager", scopes: { permissions: ["keys:manage"] } });
    for (const [cache, param] of [
      [{ enabled: true, ttl_s: 61 }, "cache.ttl_s"],
      [{ enabled: true, scope: "shared" }, "cache.scope"],
    ] as const) {
      const res = await selfService(cachedManager, "POST", "/keys", { name: "wider", cache });
      expect({ param, status: res.status, got: res.body.error.param }).toEqual({ param, status: 400, got: param });
    }
    const narrower = await selfService(cachedManager, "POST", "/keys", { name: "narrower", cache: { enabled: true, ttl_s: 30 } });
    expect(narrower.status).toBe(201);
    const patched = await selfService(cachedManager, "PATCH", `/keys/${narrower.body.id}`, { cache: { enabled: true, ttl_s: 600 } });
    expect({ status: patched.status, param: patched.body.error.param }).toEqual({ status: 400, param: "cache.ttl_s" });
    expect((await selfService(cachedManager, "PATCH", `/keys/${narrower.body.id}`, { cache: null })).body.cache).toBeNull();
  });

  it("a manager cannot widen any key past its own scopes, itself included; cleared scopes fall back to its own", async () => {
    const narrow = await selfService(manager, "POST", "/keys", { name: "narrow manager", scopes: { models: ["mock-embed"], permissions: ["keys:manage"] } });
    expect(narrow.status).toBe(201);
    const k: Key = narrow.body;
    const widen = await selfService(k, "PATCH", `/keys/${k.id}`, { scopes: { models: ["mock-embed", "mock-openai-chat"], permissions: ["keys:manage"] } });
    expect({ status: widen.status, param: widen.body.error.param }).toEqual({ status: 400, param: "scopes.models" });
    const cleared = await selfService(k, "PATCH", `/keys/${k.id}`, { scopes: null });
    expect(cleared.body.scopes).toEqual({ capabilities: ["chat"], models: ["mock-embed"] });
  });
});

describe("never another tenant", () => {
  it("another tenant's key id is 404 on every route, and lists show only the caller's tenant", async () => {
    for (const [method, path, body] of [
      ["GET", `/keys/${other.key.id}`],
      ["PATCH", `/keys/${other.key.id}`, { name: "mine now" }],
      ["POST", `/keys/${other.key.id}/rotate`, {}],
      ["POST", `/keys/${other.key.id}/revoke`],
    ] as const) {
      const res = await selfService(manager, method, path, body);
      expect({ method, path, status: res.status, code: res.body.error.code }).toEqual({ method, path, status: 404, code: "not_found" });
    }
    const mine = (await selfService(manager, "GET", "/keys?limit=100")).body.data;
    expect(mine.every((k: { tenant_id: string }) => k.tenant_id === tenant.id)).toBe(true);
    const theirs = (await selfService({ ...other.key }, "GET", "/keys?limit=100", undefined, { headers: { "cf-connecting-ip": "192.0.2.9" } })).body.data;
    expect(theirs.map((k: { id: string }) => k.id)).toEqual([other.key.id]);
    // Their key still works and is unchanged.
    expect((await admin("GET", `/tenants/${other.tenant}/keys/${other.key.id}`)).body).toMatchObject({ status: "active", name: "theirs", version: 1 });
  });

  it("a tenant header or body field cannot switch tenants", async () => {
    const res = await selfService(manager, "POST", "/keys", { name: "sneaky", tenant_id: other.tenant });
    expect({ status: res.status, param: res.body.error.param }).toEqual({ status: 400, param: "tenant_id" });
    const viaHeader = await selfService(manager, "GET", "/keys?limit=100", undefined, { headers: { "x-tenant-id": other.tenant } });
    expect(viaHeader.body.data.every((k: { tenant_id: string }) => k.tenant_id === tenant.id)).toBe(true);
  });
});

describe("rotate and revoke", () => {
  it("rotation returns a new signing secret that signs from then on", async () => {
    const created: Key = (await selfService(manager, "POST", "/keys", { name: "rotating", scopes: { permissions: ["keys:manage"] } })).body;
    const rotated = await selfService(manager, "POST", `/keys/${created.id}/rotate`, { grace_seconds: 0 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.signing_secret).not.toBe(created.signing_secret);
    expect((await selfService({ ...created, signing_secret: rotated.body.signing_secret }, "GET", "/keys")).status).toBe(200);
    expect((await selfService(created, "GET", "/keys")).status).toBe(401);
  });

  it("revocation refuses the key on its very next request", async () => {
    const victim: Key = (await selfService(manager, "POST", "/keys", { name: "short-lived", scopes: { permissions: ["keys:manage"] } })).body;
    expect((await selfService(victim, "GET", "/keys")).status).toBe(200);
    const revoked = await selfService(manager, "POST", `/keys/${victim.id}/revoke`);
    expect(revoked.body.status).toBe("revoked");
    const next = await selfService(victim, "GET", "/keys");
    expect({ status: next.status, code: next.body.error.code }).toEqual({ status: 403, code: "key_revoked" });
    expect((await selfService(manager, "PATCH", `/keys/${victim.id}`, { name: "back" })).status).toBe(409);
  });
});
