// Admin writes when a dependency misbehaves: an unreachable TenantGuard makes a ban, freeze,
// revocation or top-up answer 503 and change nothing (never half-applied); presets refuse loopback
// upstreams unless the Worker allows them.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildApp } from "../app";
import type { Env } from "../env";
import { kvKeys } from "../config/kv-keys";

const app = buildApp();

async function call(testEnv: Env, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const ctx = createExecutionContext();
  const res = await app.request(
    `/admin/v1${path}`,
    { method, headers: { authorization: "Bearer test-admin-token", "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) },
    testEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

// Fault injection: the namespace is real, but every call to an object fails as during an outage.
const unreachableGuard = {
  idFromName: (name: string) => env.TENANT_GUARD.idFromName(name),
  get: () =>
    new Proxy({}, { get: (_target, method) => (method === "then" ? undefined : () => Promise.reject(new Error("Durable Object unreachable (injected)"))) }),
} as unknown as Env["TENANT_GUARD"];

describe("when the tenant's Durable Object cannot be reached", () => {
  it("ban, freeze, revoke and top-up answer 503 and leave KV and the guard unchanged", async () => {
    const tenant = (await call(env, "POST", "/tenants", { name: "Outage" })).body;
    const key = (await call(env, "POST", `/tenants/${tenant.id}/keys`, {})).body;
    const down = { ...env, TENANT_GUARD: unreachableGuard };
    const tenantBefore = await env.CONFIG_KV.get(kvKeys.tenant(tenant.id));

    const ban = await call(down, "PATCH", `/tenants/${tenant.id}`, { status: "banned", name: "Renamed" });
    expect(ban.status).toBe(503);
    expect(ban.body.error.code).toBe("auth_unavailable");
    expect(await env.CONFIG_KV.get(kvKeys.tenant(tenant.id))).toBe(tenantBefore);

    for (const action of ["freeze", "unfreeze", "revoke"]) {
      expect((await call(down, "POST", `/tenants/${tenant.id}/keys/${key.id}/${action}`)).status).toBe(503);
    }
    const credit = await call(down, "POST", `/tenants/${tenant.id}/credits`, { amount_micros: 5, idempotency_key: "outage" });
    expect(credit.status).toBe(503);
    expect(credit.body.error.code).toBe("balance_unavailable");
    expect((await call(down, "GET", `/tenants/${tenant.id}`)).status).toBe(503);

    const guard = env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.id));
    const snapshot = await guard.snapshot();
    expect(snapshot.tenantStatus).toBe("active");
    expect(snapshot.balanceMicros).toBe(0);
    expect(snapshot.keys[key.id]?.status ?? "active").toBe("active");
    expect((await call(env, "GET", `/tenants/${tenant.id}/keys/${key.id}`)).body).toMatchObject({ status: "active", version: 1 });
  });
});

describe("presets and loopback", () => {
  it("refuses a loopback upstream unless ALLOW_LOOPBACK_UPSTREAMS is true", async () => {
    const item = { id: "local", capability: "chat", model: "m", provider: "openai", base_url: "http://127.0.0.1:9999/v1" };
    const prod = await call({ ...env, ALLOW_LOOPBACK_UPSTREAMS: "false" }, "PUT", "/presets", { items: [item] });
    expect(prod.status).toBe(400);
    expect(prod.body.error.param).toBe("items.0.base_url");
    const dev = await call({ ...env, ALLOW_LOOPBACK_UPSTREAMS: "true" }, "PUT", "/presets", { items: [item] });
    expect(dev.status).toBe(200);
  });
});
