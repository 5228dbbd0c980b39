// Named admin tokens through the real Worker: created (secret shown once), listed, rotated and revoked;
// hashed at rest; a revocation or rotation refuses the old secret on the very next request (every login
// asks the AdminAccess object, nothing is cached: the bound is zero).
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN_ACCESS_OBJECT_NAME } from "../../src/objects";
import { admin, call, createTenant, expectErrorShape, kvDump } from "./admin-helpers";

const as = (token: string, method: string, path: string, body?: unknown) => call(method, `/admin/v1${path}`, { token, body });

async function mint(body: Record<string, unknown>): Promise<any> {
  const res = await admin("POST", "/tokens", body);
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe("admin tokens", () => {
  it("create shows the secret once; list and read never do", async () => {
    const created = await mint({ name: "deploy bot", role: "operator" });
    expect(created).toMatchObject({ name: "deploy bot", role: "operator", tenant_id: null, status: "active", created_by: "env:ADMIN_TOKEN", version: 1 });
    expect(created.token).toMatch(/^gat_[0-9A-Za-z]{36}$/);
    expect(created.prefix).toBe(created.token.slice(0, 8));
    const read = await admin("GET", `/tokens/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(expect.objectContaining({ id: created.id, role: "operator" }));
    expect(read.text).not.toContain(created.token);
    const list = await admin("GET", "/tokens?limit=100");
    expect(list.body.data.map((t: any) => t.id)).toContain(created.id);
    expect(list.text).not.toContain(created.token);
    // The new token works, and records its use.
    expect((await as(created.token, "GET", "/presets")).status).toBe(200);
    expect((await admin("GET", `/tokens/${created.id}`)).body.last_used_at).toEqual(expect.any(String));
  });

  it("secrets are stored only as hashes (neither the object's tables nor KV hold one)", async () => {
    const created = await mint({ name: "dump check", role: "read_only" });
    const stub = env.ADMIN_ACCESS.get(env.ADMIN_ACCESS.idFromName(ADMIN_ACCESS_OBJECT_NAME));
    const dump = await runInDurableObject(stub, (_instance, state) => JSON.stringify(state.storage.sql.exec("SELECT * FROM tokens").toArray()));
    expect(dump).toContain(created.id);
    expect(dump).not.toContain(created.token);
    expect(dump).not.toContain(created.token.slice(8));
    expect(await kvDump()).not.toContain(created.token);
  });

  it("revocation refuses the token on the very next request, and is final", async () => {
    const created = await mint({ name: "leaked", role: "owner" });
    // Requests in flight while the revocation lands: every one that starts after its answer is refused.
    let stop = false;
    const after: number[] = [];
    let revokedAt = Number.POSITIVE_INFINITY;
    const hammer = (async () => {
      while (!stop) {
        const started = Date.now();
        const res = await as(created.token, "GET", "/presets");
        if (started > revokedAt) after.push(res.status);
      }
    })();
    expect((await as(created.token, "GET", "/presets")).status).toBe(200);
    const revoked = await admin("POST", `/tokens/${created.id}/revoke`);
    revokedAt = Date.now();
    expect(revoked.body).toMatchObject({ status: "revoked", revoked_at: expect.any(String) });
    const next = await as(created.token, "GET", "/presets");
    expect(next.status).toBe(401);
    expectErrorShape(next);
    await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await hammer;
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after)).toEqual(new Set([401]));
    expect((await admin("POST", `/tokens/${created.id}/rotate`)).status).toBe(409);
    expect((await admin("POST", `/tokens/${created.id}/revoke`)).status).toBe(200);
  });

  it("a token may revoke itself", async () => {
    const created = await mint({ name: "self", role: "owner" });
    expect((await as(created.token, "POST", `/tokens/${created.id}/revoke`)).status).toBe(200);
    expect((await as(created.token, "GET", "/tokens")).status).toBe(401);
  });

  it("rotation gives a new secret and the old one stops at once; id, role and scope stay", async () => {
    const tenant = await createTenant({ name: "Rotated" });
    const created = await mint({ name: "rot", role: "billing", tenant_id: tenant.id });
    const rotated = await admin("POST", `/tokens/${created.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: created.id, role: "billing", tenant_id: tenant.id, version: 2, rotated_at: expect.any(String) });
    expect(rotated.body.token).not.toBe(created.token);
    expect((await as(created.token, "GET", `/tenants/${tenant.id}`)).status).toBe(401);
    expect((await as(rotated.body.token, "GET", `/tenants/${tenant.id}`)).status).toBe(200);
  });

  it("refuses bad input with the one error body", async () => {
    for (const [body, param] of [
      [{ name: "x", role: "god" }, "role"],
      [{ role: "owner" }, "name"],
      [{ name: "x", role: "owner", extra: 1 }, "extra"],
      [{ name: "x", role: "owner", tenant_id: "bad:id" }, "tenant_id"],
    ] as const) {
      const res = await admin("POST", "/tokens", body);
      expect({ status: res.status, param: res.body.error.param }).toEqual({ status: 400, param });
    }
    const unknownTenant = await admin("POST", "/tokens", { name: "x", role: "owner", tenant_id: "ten_nope" });
    expect({ status: unknownTenant.status, code: unknownTenant.body.error.code, param: unknownTenant.body.error.param }).toEqual({ status: 404, code: "not_found", param: "tenant_id" });
    expect((await admin("GET", "/tokens/adt_missing")).status).toBe(404);
    expect((await admin("POST", "/tokens/adt_missing/revoke")).status).toBe(404);
    expect((await admin("GET", "/tokens?cursor=../../x")).status).toBe(400);
  });

  it("lists page by page in id order", async () => {
    for (let i = 0; i < 3; i++) await mint({ name: `page ${i}`, role: "read_only" });
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await admin("GET", `/tokens?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      ids.push(...page.body.data.map((t: any) => t.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThanOrEqual(3);
  });
});
