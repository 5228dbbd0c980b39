// The response cache policy per key, set through the admin API (issue 22): the key's setting wins over its
// tenant's, which wins over the preset's default, field by field; null clears the key's back to the tenant's.
import { describe, expect, it } from "vitest";
import { cachedPresets, chat, send, storedFrom } from "../fixtures/response-cache";
import { mockRequests, seedTenant, type SeededKey } from "../fixtures/seed";
import { admin, createKey } from "./admin-helpers";

/** A key made through the admin API, unsigned so `send` can call with it. */
async function adminKey(tenantId: string, body: Record<string, unknown>): Promise<SeededKey & { view: any }> {
  const created = await createKey(tenantId, { signature: "optional", ...body });
  return { tenantId, keyId: created.id, apiKey: created.key, signingSecret: created.signing_secret, view: created };
}

const cacheOf = async (key: SeededKey, prompt: string) => (await send(key, chat(prompt))).headers.get("x-gateway-cache");

describe("response cache policy per API key (admin API)", () => {
  it("a key turned on in a tenant with the cache off: a miss, then a hit; the tenant's other keys bypass", async () => {
    await cachedPresets("rcp-on");
    const other = await seedTenant();
    expect(await cacheOf(other, "key policy")).toBe("bypass");
    const key = await adminKey(other.tenantId, { cache: { enabled: true, ttl_s: 120 } });
    expect(key.view.cache).toEqual({ enabled: true, ttl_s: 120 });
    expect((await admin("GET", `/tenants/${other.tenantId}/keys/${key.keyId}`)).body.cache).toEqual({ enabled: true, ttl_s: 120 });
    const first = await send(key, chat("key policy"));
    expect(first.headers.get("x-gateway-cache")).toBe("miss");
    await storedFrom(first);
    expect(await cacheOf(key, "key policy")).toBe("hit");
    expect(await cacheOf(other, "key policy")).toBe("bypass");
    // The upstream saw the two bypasses and the miss; the hit never reached it.
    expect((await mockRequests("rcp-on")).count).toBe(3);
  });

  it("key over tenant over preset; null clears the key's setting back to the tenant's", async () => {
    await cachedPresets("rcp-order", { enabled: true });
    // The preset caches by default; the tenant turns it off; a key of that tenant turns it back on.
    const tenantOff = await seedTenant({ tenant: { cache: { enabled: false } } });
    expect(await cacheOf(tenantOff, "order")).toBe("bypass");
    const keyOn = await adminKey(tenantOff.tenantId, { cache: { enabled: true } });
    expect(await cacheOf(keyOn, "order")).toBe("miss");
    // The tenant has it on; a key turns it off, then clears its own setting.
    const tenantOn = await seedTenant({ tenant: { cache: { enabled: true, ttl_s: 60 } } });
    const keyOff = await adminKey(tenantOn.tenantId, {});
    expect(keyOff.view.cache).toBeNull();
    const patched = await admin("PATCH", `/tenants/${tenantOn.tenantId}/keys/${keyOff.keyId}`, { cache: { enabled: false } });
    expect(patched.status).toBe(200);
    expect(patched.body.cache).toEqual({ enabled: false });
    expect(await cacheOf(keyOff, "order 2")).toBe("bypass");
    expect(await cacheOf(tenantOn, "order 2")).toBe("miss");
    const cleared = await admin("PATCH", `/tenants/${tenantOn.tenantId}/keys/${keyOff.keyId}`, { cache: null });
    expect(cleared.body.cache).toBeNull();
    expect(await cacheOf(keyOff, "order 3")).toBe("miss");
  });

  it("refuses a malformed policy with a 400 naming the field, and stores nothing", async () => {
    const tenant = await seedTenant();
    for (const [cache, param] of [
      [{ enabled: "yes" }, "cache.enabled"],
      [{ enabled: true, ttl_s: 0 }, "cache.ttl_s"],
      [{ enabled: true, ttl_s: 86_401 }, "cache.ttl_s"],
      [{ enabled: true, scope: "global" }, "cache.scope"],
      // shared_safe is the preset owner's to say, never a caller's.
      [{ enabled: true, shared_safe: true }, "cache.shared_safe"],
    ] as const) {
      const res = await admin("POST", `/tenants/${tenant.tenantId}/keys`, { cache });
      expect({ param, status: res.status, got: res.body.error.param }).toEqual({ param, status: 400, got: param });
    }
    expect((await admin("GET", `/tenants/${tenant.tenantId}/keys`)).body.data.length).toBe(0);
  });
});
