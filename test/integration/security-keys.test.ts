// API keys on the external channel through the real Worker: status, expiry, format, where the key may be sent, store failures.
import { env, SELF } from "cloudflare:test";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { kvKeys } from "../../src/config/kv-keys";
import { createDb } from "../../src/db/client";
import { clearConfigCache } from "../../src/config/store";
import { generateApiKey, hashApiKey, isWellFormedApiKey, randomId } from "../../src/security/api-keys";
import { sealSecret } from "../../src/security/secret-box";
import { signRequest } from "../../src/security/signature";
import { mockPresets, mockScenario, seedKey, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "sec-keys";
const BASE = "https://gw.test/external/v1";
const CHAT = `${BASE}/chat/completions`;

const chatBody = () => JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "key tests" }] });
const guardOf = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));

function bearer(apiKey: string, url = CHAT, extra: Record<string, string> = {}) {
  return SELF.fetch(url, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...extra }, body: chatBody() });
}

async function signed(k: SeededKey) {
  const body = chatBody();
  const headers = await signRequest({ key: k.apiKey, secret: k.signingSecret, method: "POST", url: CHAT, body });
  return SELF.fetch(CHAT, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body });
}

async function expectError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  expect({ status: res.status, code: JSON.parse(text).error?.code }, text).toEqual({ status, code });
  return text;
}

/** Replaces a key's KV record with `value` as stored text (not necessarily valid JSON). */
async function putKeyRecord(apiKey: string, value: string) {
  await env.CONFIG_KV.put(kvKeys.apiKeyByHash(await hashApiKey(apiKey)), value);
  clearConfigCache();
}

const ledger = createDb(env);
afterAll(() => ledger.dispose());

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

describe("key status and expiry", () => {
  it("a revoked key is 403 key_revoked, from its KV record or from the TenantGuard", async () => {
    const fromKv = await seedTenant({ key: { signature: "required", status: "revoked" } });
    await expectError(await signed(fromKv), 403, "key_revoked");
    const fromGuard = await seedTenant({ key: { signature: "required" } });
    expect((await signed(fromGuard)).status).toBe(200);
    await guardOf(fromGuard.tenantId).setKeyStatus(fromGuard.keyId, "revoked");
    await expectError(await signed(fromGuard), 403, "key_revoked");
  });

  it("an expired key is 401 key_expired; one that expires later works", async () => {
    const expired = await seedTenant({ key: { signature: "required", expires_at: new Date(Date.now() - 1_000).toISOString() } });
    await expectError(await signed(expired), 401, "key_expired");
    const later = await seedTenant({ key: { signature: "required", expires_at: new Date(Date.now() + 3_600_000).toISOString() } });
    expect((await signed(later)).status).toBe(200);
  });

  it("an expiry that does not parse counts as passed: 401 key_expired (fail closed)", async () => {
    for (const expires_at of ["not-a-date", "", "2026-13-45T99:00:00Z"]) {
      await expectError(await signed(await seedTenant({ key: { signature: "required", expires_at } })), 401, "key_expired");
    }
  });

  it("an unknown but well-formed key is 401 invalid_api_key", async () => {
    await expectError(await bearer(generateApiKey()), 401, "invalid_api_key");
  });
});

describe("malformed keys are refused before any lookup", () => {
  it("a key with a bad checksum is 401 invalid_api_key even though a valid record sits under its hash", async () => {
    const k = await seedTenant();
    const last = k.apiKey.at(-1)!;
    const badChecksum = k.apiKey.slice(0, -1) + (last === "0" ? "1" : "0");
    expect(isWellFormedApiKey(badChecksum)).toBe(false);
    // Store a working record under the malformed key's hash: if the gateway looked it up, it would pass.
    const record = (await env.CONFIG_KV.get(kvKeys.apiKeyByHash(await hashApiKey(k.apiKey)), "json")) as Record<string, unknown>;
    await putKeyRecord(badChecksum, JSON.stringify(record));
    await expectError(await bearer(badChecksum), 401, "invalid_api_key");
    // ...and the same record under the real key's hash does pass, so the refusal above is the format check.
    expect((await bearer(k.apiKey)).status).toBe(200);
  });

  it("truncated, padded, wrong prefix or garbage keys are all 401 invalid_api_key", async () => {
    const k = await seedTenant();
    const service = `gst_${k.apiKey.slice(3)}`;
    for (const bad of [k.apiKey.slice(0, -1), `${k.apiKey}x`, `sk_${k.apiKey.slice(3)}`, service, "gk_", "Bearer", "%00", "x".repeat(4096)]) {
      await expectError(await bearer(bad), 401, "invalid_api_key");
    }
    await expectError(
      await SELF.fetch(CHAT, { method: "POST", headers: { authorization: `Basic ${btoa(`user:${k.apiKey}`)}` }, body: chatBody() }),
      401,
      "invalid_api_key",
    );
  });
});

describe("where the key may be sent", () => {
  it("a key in the URL query is 400 api_key_in_query, and the key is never echoed or logged", async () => {
    const k = await seedTenant();
    const logs: string[] = [];
    const spies = (["log", "info", "warn", "error", "debug"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(" "))),
    );
    const requestIds: string[] = [];
    const seen = (res: Response) => (requestIds.push(res.headers.get("x-gateway-request-id")!), res);
    try {
      for (const param of ["api_key", "apikey", "key", "access_token", "token"]) {
        const res = seen(await SELF.fetch(`${CHAT}?${param}=${k.apiKey}`, { method: "POST", headers: { "content-type": "application/json" }, body: chatBody() }));
        const text = await expectError(res, 400, "api_key_in_query");
        expect(text).not.toContain(k.apiKey);
        expect(JSON.stringify([...res.headers])).not.toContain(k.apiKey);
        // Even alongside a valid Authorization header the URL key is refused.
        const both = seen(await SELF.fetch(`${CHAT}?${param}=${k.apiKey}`, { method: "POST", headers: { authorization: `Bearer ${k.apiKey}` }, body: chatBody() }));
        await expectError(both, 400, "api_key_in_query");
      }
      const models = await SELF.fetch(`${BASE}/models?api_key=${k.apiKey}`); // a read: no background work
      expect(await expectError(models, 400, "api_key_in_query")).not.toContain(k.apiKey);
      // The requests' background work (the audit emission last) logs too: wait until it has all run.
      await waitFor("the refused requests' audit rows", async () => {
        const rows = await ledger.db.selectFrom("audit_log").select("request_id").where("request_id", "in", requestIds).execute();
        return rows.length === requestIds.length;
      });
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(logs.filter((line) => line.includes(k.apiKey))).toEqual([]);
  });

  it("credential-looking query parameters are refused in any case or spelling; ordinary names are not", async () => {
    const k = await seedTenant();
    const auth = { authorization: `Bearer ${k.apiKey}`, "content-type": "application/json" };
    for (const param of ["API_KEY", "Key", "KEY", "Api-Key", "apiKey", "x-api-key", "ACCESS_TOKEN", "accessToken", "Token", "auth_token", "Authorization", "client_secret", "openai_api_key"]) {
      const res = await SELF.fetch(`${CHAT}?${encodeURIComponent(param)}=${k.apiKey}`, { method: "POST", headers: auth, body: chatBody() });
      const text = await expectError(res, 400, "api_key_in_query");
      expect(JSON.parse(text).error.param, param).toBe(param);
      expect(text).not.toContain(k.apiKey);
    }
    // After an innocent parameter, too.
    expect((await SELF.fetch(`${BASE}/models?page=1&Api_Key=${k.apiKey}`, { headers: auth })).status).toBe(400);
    for (const param of ["monkey", "max_tokens", "tokenizer", "keys_page"]) {
      const res = await SELF.fetch(`${BASE}/models?${param}=1`, { headers: auth });
      expect(res.status, param).toBe(200);
    }
  });

  it("x-api-key is accepted instead of Authorization: Bearer (bearer-only key and signed key)", async () => {
    const optional = await seedTenant();
    const res = await SELF.fetch(CHAT, { method: "POST", headers: { "x-api-key": optional.apiKey, "content-type": "application/json" }, body: chatBody() });
    expect(res.status).toBe(200);

    const required = await seedTenant({ key: { signature: "required" } });
    const body = chatBody();
    const { Authorization: _bearer, ...signing } = await signRequest({ key: required.apiKey, secret: required.signingSecret, method: "POST", url: CHAT, body });
    const viaHeader = await SELF.fetch(CHAT, { method: "POST", headers: { ...signing, "x-api-key": required.apiKey }, body });
    expect(viaHeader.status).toBe(200);
  });

  it("a bearer-only request with a signature: optional key works; with a required key it is 401 missing_signature", async () => {
    expect((await bearer((await seedTenant()).apiKey)).status).toBe(200);
    await expectError(await bearer((await seedTenant({ key: { signature: "required" } })).apiKey), 401, "missing_signature");
  });
});

describe("store failures fail closed (503, never 401, never 200)", () => {
  // What we use: KV itself cannot be made to fail from inside workerd, so we store values the reader
  // cannot accept (not JSON, or JSON that breaks the record schema). Both make the config store answer
  // "unavailable", which is the same path a KV read error takes (readRecord's catch).
  let logs: string[];
  beforeEach(() => {
    logs = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(" ")));
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("a key record that is not JSON, or breaks the schema, is 503 auth_unavailable; the log names no key or hash", async () => {
    const secrets: string[] = [];
    for (const value of ["{not json", JSON.stringify({ id: 5 }), JSON.stringify({ status: "active" }), "null-ish", JSON.stringify([1, 2])]) {
      const k = await seedTenant();
      secrets.push(k.apiKey, await hashApiKey(k.apiKey));
      await putKeyRecord(k.apiKey, value);
      await expectError(await bearer(k.apiKey), 503, "auth_unavailable");
      await expectError(await SELF.fetch(`${BASE}/models`, { headers: { authorization: `Bearer ${k.apiKey}` } }), 503, "auth_unavailable");
    }
    expect(logs.filter((l) => l.includes("config read failed")).length).toBeGreaterThanOrEqual(5);
    expect(logs.filter((l) => secrets.some((s) => l.includes(s)))).toEqual([]);
  });

  it("a tenant record that breaks the schema is 503 auth_unavailable", async () => {
    const k = await seedTenant();
    await env.CONFIG_KV.put(kvKeys.tenant(k.tenantId), JSON.stringify({ id: k.tenantId, status: "sort-of-banned" }));
    clearConfigCache();
    await expectError(await bearer(k.apiKey), 503, "auth_unavailable");
  });

  it("a key whose tenant record is missing is 401 invalid_api_key (nothing to authenticate against)", async () => {
    const tenantId = randomId("ten");
    const k = await seedKey(tenantId);
    await expectError(await bearer(k.apiKey), 401, "invalid_api_key");
  });

  it("a signing secret that cannot be opened (sealed for another key id) is 503 auth_unavailable for signed calls", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const record = (await env.CONFIG_KV.get(kvKeys.apiKeyByHash(await hashApiKey(k.apiKey)), "json")) as Record<string, unknown>;
    const resealed = await sealSecret(env.MASTER_KEY!, k.signingSecret, "key_someone_else");
    await putKeyRecord(k.apiKey, JSON.stringify({ ...record, signing_secret_sealed: resealed, version: 2 }));
    await expectError(await signed(k), 503, "auth_unavailable");
  });

  it("a sealed secret copied onto another key's record does not open there, even once opened for its own key (503)", async () => {
    const owner = await seedTenant({ key: { signature: "required" } });
    expect((await signed(owner)).status).toBe(200);
    const ownerRecord = (await env.CONFIG_KV.get(kvKeys.apiKeyByHash(await hashApiKey(owner.apiKey)), "json")) as { signing_secret_sealed: string };
    // Someone with KV write access (but not MASTER_KEY) copies the sealed value onto another key.
    const copy = await seedKey(owner.tenantId, { signature: "required", signing_secret_sealed: ownerRecord.signing_secret_sealed });
    await expectError(await signed({ ...copy, signingSecret: owner.signingSecret }), 503, "auth_unavailable");
  });

  it("presets that break the schema are 503 config_unavailable after authentication", async () => {
    const k = await seedTenant();
    await env.CONFIG_KV.put(kvKeys.presets(), JSON.stringify({ version: 9, items: [{ id: "broken" }] }));
    clearConfigCache();
    try {
      await expectError(await bearer(k.apiKey), 503, "config_unavailable");
    } finally {
      await seedPresets(mockPresets(SCENARIO), 10);
    }
    expect((await bearer(k.apiKey)).status).toBe(200);
  });
});
