// Health endpoints through the real Worker: liveness; readiness healthy, and degraded with a dead
// database or Redis (503 naming it, no credential in the detail); the tenant's own health (its
// numbers only, quota and balance, model status from breakers); the credential walls.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../../test/fixtures/seed";
import { buildApp } from "../app";
import type { Env } from "../env";
import type { CheckResult, Readiness } from "../metrics/health-checks";
import type { TenantHealth } from "../metrics/tenant-health";
import { parseExposition, sumSamples } from "../metrics/parse-exposition";

const SCENARIO = "health-route";
let service: { token: string };

const get = (path: string, token?: string) => SELF.fetch(`https://gw.test${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

const chat = (token: string, model = "mock-openai-chat") =>
  SELF.fetch("https://gw.test/external/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "how healthy am I" }] }),
  });

/** Readiness against the real app with some bindings replaced (a dead database, a Redis). */
async function readinessWith(overrides: Partial<Env>): Promise<{ status: number; body: Readiness }> {
  const exec = createExecutionContext();
  const res = await buildApp().request("https://gw.test/internal/v1/health", { headers: { authorization: `Bearer ${service.token}` } }, { ...env, ...overrides }, exec);
  const body = (await res.json()) as Readiness;
  await waitOnExecutionContext(exec);
  return { status: res.status, body };
}

const check = (r: Readiness, name: CheckResult["name"]) => r.checks.find((c) => c.name === name)!;

/** The tenant's health once `ready` holds (its requests are recorded after their responses). */
async function healthUntil(key: SeededKey, ready: (h: TenantHealth) => boolean): Promise<TenantHealth> {
  let body: TenantHealth | undefined;
  for (let i = 0; i < 100; i++) {
    const res = await get("/external/v1/health", key.apiKey);
    expect(res.status).toBe(200);
    body = (await res.json()) as TenantHealth;
    if (ready(body)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return body!;
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  service = await seedService({ operations: true });
});

describe("GET /health (liveness)", () => {
  it("answers ok without touching any dependency", async () => {
    const res = await get("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });
});

describe("GET /internal/v1/health (readiness)", () => {
  it("is ready with every configured dependency answering, each with its status and latency", async () => {
    const res = await get("/internal/v1/health", service.token);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Readiness;
    expect(body.status).toBe("ready");
    for (const name of ["kv", "durable_objects", "database"] as const) {
      expect(check(body, name)).toMatchObject({ status: "ok", required: true });
      expect(check(body, name).latency_ms).toBeGreaterThanOrEqual(0);
    }
    expect(check(body, "queues").status).toBe("skipped");
    expect(check(body, "redis")).toMatchObject({ status: "skipped", required: false });
  });

  it("is unready (503) naming the database when it cannot be reached, without leaking the password", async () => {
    const { status, body } = await readinessWith({ DATABASE_URL: "postgres://gw:hunter2-secret@127.0.0.1:1/gw" });
    expect(status).toBe(503);
    expect(body.status).toBe("unready");
    const db = check(body, "database");
    expect(db.status).toBe("fail");
    expect(db.detail).toBeTruthy();
    expect(JSON.stringify(body)).not.toContain("hunter2-secret");
    expect(check(body, "kv").status).toBe("ok");
  });

  it("pings Redis when it is configured: ok when it answers, 503 naming it when it does not", async () => {
    if (env.TEST_REDIS_REST_URL) {
      const up = await readinessWith({ UPSTASH_REDIS_REST_URL: env.TEST_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN: env.TEST_REDIS_REST_TOKEN });
      expect(up.status).toBe(200);
      expect(check(up.body, "redis")).toMatchObject({ status: "ok", required: true });
    }
    const down = await readinessWith({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "t" });
    expect(down.status).toBe(503);
    expect(check(down.body, "redis").status).toBe("fail");
  });

  it("refuses a missing token, a tenant's API key, and a service token without the operations scope", async () => {
    const tenant = await seedTenant();
    expect((await get("/internal/v1/health")).status).toBe(401);
    const res = await get("/internal/v1/health", tenant.apiKey);
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain("checks");
    const plain = await get("/internal/v1/health", (await seedService()).token);
    expect(plain.status).toBe(403);
    const text = await plain.text();
    expect(JSON.parse(text).error.code).toBe("insufficient_role");
    expect(text).not.toContain("checks");
  });
});

describe("GET /external/v1/health (the tenant's own health)", () => {
  it("shows the tenant's own traffic, quota and balance, and none of another tenant's", async () => {
    const a = await seedTenant({ key: { quotas: [{ id: "requests-daily-all", type: "requests", period: "daily", limit: 100 }] } });
    const b = await seedTenant();
    for (let i = 0; i < 2; i++) expect((await chat(a.apiKey)).status).toBe(200);
    expect((await chat(a.apiKey, "no-such-model")).status).toBe(404);
    for (let i = 0; i < 5; i++) expect((await chat(b.apiKey)).status).toBe(200);

    const health = await healthUntil(a, (h) => (h.traffic?.[0]?.requests ?? 0) >= 3);
    expect(health).toMatchObject({ object: "tenant.health", tenant_id: a.tenantId, key_id: a.keyId, unavailable: [] });
    const recent = health.traffic!.find((w) => w.window_minutes === 5)!;
    expect(recent).toMatchObject({ requests: 3, succeeded: 2, client_errors: 1, rejections: 0, gateway_errors: 0, upstream_errors: 0 });
    expect(recent.success_rate).toBeCloseTo(2 / 3);
    expect(recent.latency_ms.p95).toBeGreaterThanOrEqual(recent.latency_ms.p50!);
    expect(recent.cost_micros).toBeGreaterThan(0);

    const guard = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(a.tenantId)).snapshot();
    expect(health.account).toMatchObject({ status: "active", balance_micros: guard.balanceMicros, available_micros: guard.balanceMicros - guard.holdMicros });
    expect(health.account!.quotas).toEqual([
      { id: "requests-daily-all", scope: "key", type: "requests", period: "daily", used: 2, limit: 100, remaining: 98 },
    ]);
    expect(JSON.stringify(health)).not.toContain(b.tenantId);

    const other = await healthUntil(b, (h) => (h.traffic?.[0]?.requests ?? 0) >= 5);
    expect(other.traffic![0]).toMatchObject({ requests: 5, succeeded: 5, client_errors: 0 });
    expect(JSON.stringify(other)).not.toContain(a.tenantId);
  });

  it("counts the tenant's rate-limit rejections, also in gateway_rejections_total", async () => {
    const limited = await seedTenant({ key: { rate_limits: { requests_per_minute: 1 } } });
    expect((await chat(limited.apiKey)).status).toBe(200);
    expect((await chat(limited.apiKey)).status).toBe(429);
    const health = await healthUntil(limited, (h) => (h.traffic?.[0]?.requests ?? 0) >= 2);
    expect(health.traffic![0]).toMatchObject({ requests: 2, succeeded: 1, rejections: 1 });
    const scrape = await get("/internal/v1/metrics", service.token);
    const parsed = parseExposition(await scrape.text());
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(sumSamples(parsed.families.get("gateway_rejections_total"), { kind: "rate_limit_exceeded" })).toBeGreaterThanOrEqual(1);
  });

  it("reports a model whose only upstream has an open breaker as unavailable, without naming the upstream", async () => {
    const scenario = `${SCENARIO}-open`;
    await seedPresets([...mockPresets(SCENARIO), ...mockPresets(scenario).map((p) => ({ ...p, model: `${p.model}-broken` }))]);
    const breaker = env.UPSTREAM_HEALTH.get(env.UPSTREAM_HEALTH.idFromName(`${scenario}-openai`));
    for (let i = 0; i < 10; i++) await breaker.record({ ok: false, latencyMs: 5, target: `${scenario}-openai` });
    const tenant = await seedTenant();
    const health = await healthUntil(tenant, () => true);
    const models = Object.fromEntries(health.models!.map((m) => [m.model, m.status]));
    expect(models["mock-openai-chat-broken"]).toBe("unavailable");
    expect(models["mock-openai-chat"]).toBe("available");
    expect(JSON.stringify(health)).not.toContain(`${scenario}-openai`);
    await seedPresets(mockPresets(SCENARIO));
  });

  it("refuses a missing key, a service token and an unknown key with 401", async () => {
    expect((await get("/external/v1/health")).status).toBe(401);
    expect((await get("/external/v1/health", service.token)).status).toBe(401);
    expect((await get("/external/v1/health", "sk-live-not-a-real-key")).status).toBe(401);
  });
});
