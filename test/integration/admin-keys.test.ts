// Admin API, tenant API keys, through the real Worker: the plaintext key and secret exist only in
// the create response, tenant isolation (404 for another tenant's key), and revoke / freeze /
// unfreeze / rotate-secret taking effect on the very next gateway request.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { clearConfigCache } from "../../src/config/store";
import { createSigningFetch } from "../../src/client/signing-fetch";
import { hashApiKey, isWellFormedApiKey } from "../../src/security/api-keys";
import { openSecret } from "../../src/security/secret-box";
import { mockPresets, mockScenario } from "../fixtures/seed";
import { admin, createKey, createTenant, expectErrorShape, kvDump } from "./admin-helpers";

const SCENARIO = "admin-keys";
const CHAT_URL = "https://gw.test/external/v1/chat/completions";
const chatInit = (apiKey: string): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 16 }),
});
const chat = (apiKey: string) => SELF.fetch(CHAT_URL, chatInit(apiKey));
const signedChat = (apiKey: string, signingSecret: string) =>
  createSigningFetch({ apiKey, signingSecret, fetch: (input, init) => SELF.fetch(input as string, init) })(CHAT_URL, chatInit(apiKey));
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

let tenantId: string;

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  expect((await admin("PUT", "/presets", { items: mockPresets(SCENARIO) })).status).toBe(200);
  tenantId = (await createTenant({ name: "Keys Inc" })).id;
  await admin("POST", `/tenants/${tenantId}/credits`, { amount_micros: 50_000_000, idempotency_key: "fund" });
});

describe("POST /admin/v1/tenants/{tenant_id}/keys", () => {
  it("returns a well-formed key and signing secret once; KV holds only the hash and a sealed secret", async () => {
    const created = await admin("POST", `/tenants/${tenantId}/keys`, {
      name: "ci",
      scopes: { capabilities: ["chat"], models: ["mock-openai-chat"] },
      ip_allowlist: ["0.0.0.0/0", "::/0"],
      expires_at: "2099-01-01T00:00:00Z",
      rate_limits: { requests_per_minute: 100 },
      quotas: [{ type: "cost", period: "monthly", limit: 5_000_000 }],
    });
    expect(created.status).toBe(201);
    const key = created.body;
    expect(isWellFormedApiKey(key.key)).toBe(true);
    expect(key.signing_secret).toMatch(/^gss_[0-9A-Za-z]{43}$/);
    expect(key).toMatchObject({ tenant_id: tenantId, name: "ci", status: "active", signature: "required", prefix: key.key.slice(0, 7) });
    expect(key.quotas).toEqual([{ id: "cost-monthly-all", type: "cost", period: "monthly", limit: 5_000_000 }]);

    const record = (await env.CONFIG_KV.get(kvKeys.apiKeyByHash(await hashApiKey(key.key)), "json")) as Record<string, string>;
    expect(record.id).toBe(key.id);
    expect(await openSecret(env.MASTER_KEY!, record.signing_secret_sealed!, key.id)).toBe(key.signing_secret);
    // Bound to its key id: the sealed secret does not open as another key's.
    expect(await openSecret(env.MASTER_KEY!, record.signing_secret_sealed!, "key_other")).toBeNull();

    for (const reply of [await admin("GET", `/tenants/${tenantId}/keys/${key.id}`), await admin("GET", `/tenants/${tenantId}/keys?limit=100`)]) {
      expect(reply.status).toBe(200);
      expect(reply.text).not.toContain(key.key);
      expect(reply.text).not.toContain(key.signing_secret);
      expect(reply.text).not.toContain("sealed");
      expect(reply.text).not.toContain(await hashApiKey(key.key));
    }
  });

  it("a dump of all of KV contains no plaintext key, signing secret or service token", async () => {
    const keys = await Promise.all([createKey(tenantId), createKey(tenantId, { signature: "optional" })]);
    const rotated = await admin("POST", `/tenants/${tenantId}/keys/${keys[0].id}/rotate-secret`, {});
    const service = await admin("POST", "/services", { name: "dump-check" });
    const dump = await kvDump();
    expect(dump).toContain(keys[0].id);
    for (const secret of [...keys.flatMap((k) => [k.key, k.signing_secret]), rotated.body.signing_secret, service.body.token]) {
      expect(secret.length).toBeGreaterThan(30);
      expect(dump).not.toContain(secret);
      // Not even the random body without its prefix.
      expect(dump).not.toContain(secret.slice(4, 24));
    }
  });

  it("rejects bad input with 400 and the field as param", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ signature: "sometimes" }, "signature"],
      [{ expires_at: "2000-01-01T00:00:00Z" }, "expires_at"],
      [{ expires_at: "tomorrow" }, "expires_at"],
      [{ scopes: { capabilities: ["images"] } }, "scopes.capabilities.0"],
      [{ scopes: { modles: [] } }, "scopes.modles"],
      [{ ip_allowlist: ["256.1.1.1"] }, "ip_allowlist.0"],
      [{ quotas: [{ type: "tokens", period: "daily", limit: -1 }] }, "quotas.0.limit"],
      [{ tenant_id: "ten_other" }, "tenant_id"],
    ];
    for (const [body, param] of cases) {
      const res = await admin("POST", `/tenants/${tenantId}/keys`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expectErrorShape(res);
      expect(res.body.error.param).toBe(param);
    }
    expect((await admin("POST", "/tenants/ten_unknown/keys", {})).status).toBe(404);
  });
});

describe("tenant isolation", () => {
  it("another tenant's key id is 404 on every key route, never 403, and changes nothing", async () => {
    const victim = await createKey(tenantId, { signature: "optional" });
    const other = (await createTenant({ name: "Other" })).id;
    const base = `/tenants/${other}/keys/${victim.id}`;
    const attempts = [
      await admin("GET", base),
      await admin("PATCH", base, { name: "stolen" }),
      await admin("POST", `${base}/revoke`),
      await admin("POST", `${base}/freeze`),
      await admin("POST", `${base}/unfreeze`),
      await admin("POST", `${base}/rotate-secret`, {}),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    const listed = await admin("GET", `/tenants/${other}/keys`);
    expect(listed.body.data.map((k: { id: string }) => k.id)).not.toContain(victim.id);
    const intact = await admin("GET", `/tenants/${tenantId}/keys/${victim.id}`);
    expect(intact.body).toMatchObject({ name: null, status: "active", version: 1 });
    expect((await chat(victim.key)).status).toBe(200);
  });

  it("a cursor from one tenant's key list is refused for another's", async () => {
    const a = (await createTenant({ name: "A" })).id;
    await Promise.all([createKey(a), createKey(a), createKey(a)]);
    const page = await admin("GET", `/tenants/${a}/keys?limit=1`);
    expect(page.body.next_cursor).toEqual(expect.any(String));
    const b = (await createTenant({ name: "B" })).id;
    const misuse = await admin("GET", `/tenants/${b}/keys?cursor=${encodeURIComponent(page.body.next_cursor)}`);
    expect(misuse.status).toBe(400);
    expect(misuse.body.error.param).toBe("cursor");
  });
});

describe("status changes apply on the next request", () => {
  it("freeze -> 403 key_frozen, unfreeze -> served again", async () => {
    const key = await createKey(tenantId, { signature: "optional" });
    expect((await chat(key.key)).status).toBe(200);
    const frozen = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/freeze`);
    expect(frozen.status).toBe(200);
    expect(frozen.body.status).toBe("frozen");
    const refused = await chat(key.key);
    expect(refused.status).toBe(403);
    expect(await codeOf(refused)).toBe("key_frozen");
    expect((await admin("GET", `/tenants/${tenantId}/keys/${key.id}`)).body.status).toBe("frozen");
    const thawed = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/unfreeze`);
    expect(thawed.body.status).toBe("active");
    expect((await chat(key.key)).status).toBe(200);
  });

  it("revoke -> 403 key_revoked, even through a stale cached record; revocation is final", async () => {
    const key = await createKey(tenantId, { signature: "optional" });
    const hash = await hashApiKey(key.key);
    const stale = await env.CONFIG_KV.get(kvKeys.apiKeyByHash(hash));
    const revoked = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: "revoked", version: 2 });
    expect(await codeOf(await chat(key.key))).toBe("key_revoked");
    // An isolate still caching the active record is stopped by the Durable Object.
    await env.CONFIG_KV.put(kvKeys.apiKeyByHash(hash), stale!);
    clearConfigCache();
    const refused = await chat(key.key);
    expect(refused.status).toBe(403);
    expect(await codeOf(refused)).toBe("key_revoked");
    await admin("POST", `/tenants/${tenantId}/keys/${key.id}/revoke`);
    for (const action of ["unfreeze", "freeze", "rotate-secret"]) {
      const res = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/${action}`, action === "rotate-secret" ? {} : undefined);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe("invalid_state");
    }
    expect((await admin("PATCH", `/tenants/${tenantId}/keys/${key.id}`, { name: "back" })).status).toBe(409);
  });

  it("rotate-secret: the new secret works at once, the old one only during the grace period", async () => {
    const key = await createKey(tenantId);
    expect((await chat(key.key)).status).toBe(401);
    expect((await signedChat(key.key, key.signing_secret)).status).toBe(200);
    const rotated = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/rotate-secret`, { grace_seconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.signing_secret).not.toBe(key.signing_secret);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.parse(rotated.body.secret_rotated_at)).toBe(3_600_000);
    expect((await signedChat(key.key, rotated.body.signing_secret)).status).toBe(200);
    expect((await signedChat(key.key, key.signing_secret)).status).toBe(200);

    const hard = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/rotate-secret`, { grace_seconds: 0 });
    expect(hard.body.previous_secret_expires_at).toBeNull();
    const old = await signedChat(key.key, rotated.body.signing_secret);
    expect(old.status).toBe(401);
    expect(await codeOf(old)).toBe("invalid_signature");
    expect((await signedChat(key.key, hard.body.signing_secret)).status).toBe(200);
    const view = await admin("GET", `/tenants/${tenantId}/keys/${key.id}`);
    expect(view.text).not.toContain(hard.body.signing_secret);
    expect((await admin("POST", `/tenants/${tenantId}/keys/${key.id}/rotate-secret`, { grace_seconds: -1 })).body.error.param).toBe("grace_seconds");
    // No body at all: the default grace period of one day.
    const byDefault = await admin("POST", `/tenants/${tenantId}/keys/${key.id}/rotate-secret`);
    expect(byDefault.status).toBe(200);
    expect(Date.parse(byDefault.body.previous_secret_expires_at) - Date.parse(byDefault.body.secret_rotated_at)).toBe(86_400_000);
  });
});

describe("PATCH /admin/v1/tenants/{tenant_id}/keys/{key_id}", () => {
  it("updates settings, clears with null, and the gateway uses the new scopes", async () => {
    const key = await createKey(tenantId, { signature: "optional", name: "before", ip_allowlist: ["198.51.100.0/24"] });
    const res = await admin("PATCH", `/tenants/${tenantId}/keys/${key.id}`, { name: "after", ip_allowlist: null, scopes: { models: ["mock-azure-chat"] } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "after", ip_allowlist: [], scopes: { models: ["mock-azure-chat"] }, version: 2 });
    const denied = await chat(key.key);
    expect(denied.status).toBe(403);
    expect(await codeOf(denied)).toBe("scope_denied");
    expect((await admin("PATCH", `/tenants/${tenantId}/keys/${key.id}`, {})).status).toBe(400);
    expect((await admin("PATCH", `/tenants/${tenantId}/keys/key_unknown`, { name: "x" })).status).toBe(404);
  });
});
