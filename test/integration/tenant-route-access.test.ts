// Every tenant-facing route that is not the pipeline (models, health, audit, usage) goes through the
// same access checks as the pipeline: the key's allowlists and signature, and the TenantGuard's own
// state (a freeze or a ban it knows before the config cache does) and a signed request's nonce.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { guardFor } from "../../src/objects";
import { signRequest } from "../../src/security/signature";
import { mockPresets, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";

const SCENARIO = "tenant-route-access";
const ROUTES = ["/external/v1/models", "/external/v1/health", "/external/v1/audit", "/external/v1/usage"] as const;

const get = (path: string, headers: Record<string, string>) => SELF.fetch(`https://gw.test${path}`, { headers });
const bearer = (k: SeededKey) => ({ authorization: `Bearer ${k.apiKey}` });
const signedGet = (k: SeededKey, path: string, nonce?: string) =>
  signRequest({ key: k.apiKey, secret: k.signingSecret, method: "GET", url: `https://gw.test${path}`, body: "", nonce });

async function codeOf(res: Response): Promise<string> {
  if (res.ok) return String(res.status);
  const body = (await res.json()) as { error: { code: string } };
  return `${res.status} ${body.error.code}`;
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

describe.each(ROUTES)("GET %s", (path) => {
  it("a key frozen in its TenantGuard is 403 key_frozen (the config cache still says active)", async () => {
    const k = await seedTenant();
    expect(await codeOf(await get(path, bearer(k)))).not.toMatch(/^4/);
    await guardFor(env, k.tenantId).setKeyStatus(k.keyId, "frozen");
    expect(await codeOf(await get(path, bearer(k)))).toBe("403 key_frozen");
  });

  it("a tenant banned in its TenantGuard is 403 tenant_banned", async () => {
    const k = await seedTenant();
    await guardFor(env, k.tenantId).setTenantStatus("banned");
    expect(await codeOf(await get(path, bearer(k)))).toBe("403 tenant_banned");
  });

  it("the same signed nonce sent twice is 401 replayed_nonce the second time", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    const headers = await signedGet(k, path);
    expect(await codeOf(await get(path, headers))).not.toMatch(/^4/);
    expect(await codeOf(await get(path, headers))).toBe("401 replayed_nonce");
    // A fresh nonce is served again: the refusal was the replay, not the key.
    expect(await codeOf(await get(path, await signedGet(k, path)))).not.toMatch(/^4/);
  });

  it("a key that must sign is refused unsigned, and an unknown key is 401", async () => {
    const k = await seedTenant({ key: { signature: "required" } });
    expect(await codeOf(await get(path, bearer(k)))).toBe("401 missing_signature");
    expect(await codeOf(await get(path, { authorization: "Bearer gk_notarealkey" }))).toMatch(/^401 /);
  });
});
