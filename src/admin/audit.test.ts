// Every admin write leaves exactly one audit record (channel "admin", actor token id and role, action,
// resource id) on the real audit queue; reads and refused writes leave none, except that every use of the
// break-glass ADMIN_TOKEN leaves its own record; no record or billing message carries a secret.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AuditMessageSchema, BillingMessageSchema, type AuditMessage } from "../../queues/messages";
import { buildApp } from "../app";

const app = buildApp();
const audits: AuditMessage[] = [];
const billing: unknown[] = [];
// The real queues, with a record of what was sent through them.
const spy = <T>(queue: Queue<unknown>, sink: T[]): Queue<unknown> =>
  ({
    send: (body: unknown, opts?: QueueSendOptions) => {
      sink.push(structuredClone(body) as T);
      return queue.send(body, opts);
    },
    sendBatch: (messages: Iterable<MessageSendRequest<unknown>>, opts?: QueueSendBatchOptions) => queue.sendBatch(messages, opts),
  }) as Queue<unknown>;
const testEnv = { ...env, AUDIT_QUEUE: spy(env.AUDIT_QUEUE, audits), BILLING_QUEUE: spy(env.BILLING_QUEUE, billing) };

let calls = 0;

async function call(method: string, path: string, body?: unknown, token = "test-admin-token"): Promise<any> {
  calls += 1;
  const ctx = createExecutionContext();
  const res = await app.request(
    `/admin/v1${path}`,
    { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) },
    testEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

describe("admin audit trail", () => {
  it("one record per write, none per read or refused write, and never a secret", async () => {
    const secrets: string[] = [];
    const expected: [string, string][] = [];
    const write = async (action: string, method: string, path: string, body?: unknown) => {
      const res = await call(method, path, body);
      expect(res.status, `${action}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      expected.push([action, path]);
      return res.body;
    };

    const tenant = await write("tenant.create", "POST", "/tenants", { name: "Audited" });
    await write("tenant.update", "PATCH", `/tenants/${tenant.id}`, { weight: 2 });
    await write("tenant.ban", "PATCH", `/tenants/${tenant.id}`, { status: "banned" });
    await write("tenant.unban", "PATCH", `/tenants/${tenant.id}`, { status: "active" });
    const key = await write("api_key.create", "POST", `/tenants/${tenant.id}/keys`, {});
    secrets.push(key.key, key.signing_secret);
    const keyPath = `/tenants/${tenant.id}/keys/${key.id}`;
    await write("api_key.update", "PATCH", keyPath, { name: "renamed" });
    secrets.push((await write("api_key.rotate_secret", "POST", `${keyPath}/rotate-secret`, { grace_seconds: 60 })).signing_secret);
    await write("api_key.freeze", "POST", `${keyPath}/freeze`);
    await write("api_key.unfreeze", "POST", `${keyPath}/unfreeze`);
    await write("api_key.revoke", "POST", `${keyPath}/revoke`);
    await write("credit.apply", "POST", `/tenants/${tenant.id}/credits`, { amount_micros: 5, idempotency_key: "audit-1" });
    await write("credit.replay", "POST", `/tenants/${tenant.id}/credits`, { amount_micros: 5, idempotency_key: "audit-1" });
    const service = await write("service.create", "POST", "/services", { name: "svc" });
    secrets.push(service.token);
    await write("service.update", "PATCH", `/services/${service.id}`, { name: "svc2" });
    await write("service.revoke", "POST", `/services/${service.id}/revoke`);
    await write("presets.replace", "PUT", "/presets", { items: [] });
    await write("template.put", "PUT", "/templates/audit-me", { engine: "simple_replace", messages: [{ role: "user", content: "x" }] });
    await write("global_limits.replace", "PUT", "/limits/global", {});

    // Reads and refusals: no record.
    await call("GET", `/tenants/${tenant.id}`);
    await call("GET", `${keyPath}`);
    await call("GET", "/services");
    expect((await call("POST", "/tenants", { name: "" })).status).toBe(400);
    expect((await call("PATCH", "/tenants/ten_missing", { name: "x" })).status).toBe(404);

    const breakGlass = audits.filter((a) => a.meta.action === "break_glass.use");
    const writes = audits.filter((a) => a.meta.action !== "break_glass.use");
    expect(writes.map((a) => a.meta.action)).toEqual(expected.map(([action]) => action));
    expect(breakGlass).toHaveLength(calls);
    expect(breakGlass.map((a) => a.meta.path)).toContain("GET /admin/v1/services");
    for (const record of audits) {
      expect(AuditMessageSchema.safeParse(record).success).toBe(true);
      expect(record.channel).toBe("admin");
      expect(record.meta).toMatchObject({ actor: "admin", actor_token_id: "env:ADMIN_TOKEN", actor_role: "owner", actor_tenant_scope: null });
      expect(record.meta.resource_id).toEqual(expect.any(String));
    }
    for (const record of writes) expect(record.route).toMatch(/^(POST|PATCH|PUT) \/admin\/v1\//);
    const byAction = Object.fromEntries(audits.map((a) => [a.meta.action, a]));
    expect(byAction["api_key.revoke"]).toMatchObject({ tenant_id: tenant.id, key_id: key.id, meta: { resource_id: key.id } });
    expect(byAction["tenant.update"]!.meta.fields).toEqual(["weight"]);

    // The top-up reaches the ledger's queue once per call; the ledger deduplicates on request_id.
    expect(billing).toHaveLength(2);
    for (const message of billing) {
      expect(BillingMessageSchema.parse(message)).toMatchObject({ kind: "credit", request_id: "credit:audit-1", tenant_id: tenant.id, amount_micros: 5 });
    }

    const everything = JSON.stringify([audits, billing]);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });

  it("a named token's writes carry its id, role and tenant scope, its reads leave nothing, and its secret never appears", async () => {
    const owner = (await call("POST", "/tokens", { name: "ops", role: "operator" })).body;
    const tenant = (await call("POST", "/tenants", { name: "Scoped" })).body;
    const scoped = (await call("POST", "/tokens", { name: "acme ops", role: "operator", tenant_id: tenant.id })).body;
    audits.length = 0;
    await call("GET", "/tenants", undefined, owner.token);
    expect(audits).toHaveLength(0);
    expect((await call("PATCH", `/tenants/${tenant.id}`, { weight: 3 }, scoped.token)).status).toBe(200);
    expect(audits).toHaveLength(1);
    expect(audits[0]!.meta).toMatchObject({ actor: "admin", actor_token_id: scoped.id, actor_role: "operator", actor_tenant_scope: tenant.id, action: "tenant.update" });
    const everything = JSON.stringify(audits);
    expect(everything).not.toContain(owner.token);
    expect(everything).not.toContain(scoped.token);
  });
});
