// The global bucket through the real Worker: exactly N requests per window across tenants, 429
// global_rate_limit_exceeded for the rest with no hold left open, refunds of tenant-refused units,
// no call when unconfigured, and fail-open (flagged in the audit record) when the limiter hangs or is down.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { createDb } from "../../src/db/client";
import type { Env } from "../../src/env";
import { GLOBAL_FAIL_OPEN_FLAG, GLOBAL_TIMEOUT_MS } from "../../src/global-limit/gate";
import { GLOBAL_OBJECT_NAME } from "../../src/global-limit/durable-object-limiter";
import { WINDOW_MS } from "../../src/global-limit/fair-share";
import { admin } from "./admin-helpers";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant } from "../fixtures/seed";
import { waitFor, waitUntil } from "../fixtures/wait";

const SCENARIO = "gw-global-limit";
const handle = createDb(env);
afterAll(() => handle.dispose());

const chat = (apiKey: string) => ({
  method: "POST",
  headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "global bucket" }], max_tokens: 16 }),
});

async function send(apiKey: string): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await SELF.fetch("https://gw.test/external/v1/chat/completions", chat(apiKey));
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const guardOf = (tenantId: string) => env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenantId));
const globalObject = () => env.GLOBAL_LIMITER.get(env.GLOBAL_LIMITER.idFromName(GLOBAL_OBJECT_NAME));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` passes or `ms` elapse (holds close and refunds land in waitUntil, after the response). */

/** The bucket's windows are whole minutes: a case that must stay in one window starts well inside one. */
async function awayFromWindowEnd(needMs = 8_000): Promise<void> {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < needMs) await sleep(left + 50);
}

async function setGlobal(body: Record<string, unknown>): Promise<void> {
  const res = await admin("PUT", "/limits/global", body);
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

describe("global rate limit through the Worker", () => {
  it("10 requests/minute, 15 requests from two tenants: exactly 10 succeed, 5 get 429 and leave no open hold", async () => {
    const N = 10;
    await setGlobal({ external: { requests_per_minute: N } });
    const [a, b] = [await seedTenant(), await seedTenant()];
    await awayFromWindowEnd();
    const keys = Array.from({ length: N + 5 }, (_, i) => (i % 2 === 0 ? a.apiKey : b.apiKey));
    const replies = await Promise.all(keys.map(send));

    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    console.log(`[global-limit] limit ${N}/min, sent ${replies.length} from 2 tenants: ${ok.length} x 200, ${refused.length} x 429`);
    expect(ok).toHaveLength(N);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.body.error).toMatchObject({ code: "global_rate_limit_exceeded", type: "rate_limit_error" });
      const retryAfter = Number(r.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(Number(r.headers.get("retry-after-ms"))).toBeGreaterThan(0);
      expect(r.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    }
    // The tenants have no limits of their own, so the headers show the global bucket's.
    expect(ok.every((r) => r.headers.get("x-ratelimit-limit-requests") === String(N))).toBe(true);
    // Every hold was settled (served) or released (refused by the global bucket).
    await waitUntil("every hold closed", async () => (await guardOf(a.tenantId).snapshot()).openHolds + (await guardOf(b.tenantId).snapshot()).openHolds === 0);
    const snapshot = await globalObject().snapshot("external");
    expect(snapshot.usedRequests).toBe(N);
  });

  it("a request its own tenant refuses gives its global unit back", async () => {
    await setGlobal({ external: { requests_per_minute: 1_000 } });
    const t = await seedTenant({ tenant: { rate_limits: { requests_per_minute: 1 } } });
    await awayFromWindowEnd();
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await send(t.apiKey));
    expect(statuses.map((r) => r.status)).toEqual([200, 429, 429]);
    expect(statuses[1]!.body.error.code).toBe("rate_limit_exceeded");
    await waitUntil("the global unit given back", async () => (await globalObject().snapshot("external")).tenants[t.tenantId]?.used[0] === 1);
  });

  it("with no global limit configured, the global limiter is not called at all", async () => {
    await setGlobal({});
    const t = await seedTenant();
    expect((await send(t.apiKey)).status).toBe(200);
    expect((await globalObject().snapshot("external")).tenants[t.tenantId]).toBeUndefined();
  });

  describe("when the global limiter hangs or is down", () => {
    const app = buildApp();
    async function viaApp(testEnv: Env, apiKey: string): Promise<{ status: number; requestId: string; elapsedMs: number }> {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.request("https://gw.test/external/v1/chat/completions", chat(apiKey), testEnv, ctx);
      const elapsedMs = Date.now() - started;
      await res.text();
      await waitOnExecutionContext(ctx);
      return { status: res.status, requestId: res.headers.get("x-gateway-request-id")!, elapsedMs };
    }
    async function auditFlags(requestId: string): Promise<string[] | undefined> {
      const row = await waitFor("the audit row", () => handle.db.selectFrom("audit_log").select("flags").where("request_id", "=", requestId).executeTakeFirst());
      return row.flags;
    }

    it.each([
      ["hangs (no answer within the deadline)", `${env.MOCK_PROVIDER_URL}/s/gw-global-hang`],
      ["is unreachable", "http://127.0.0.1:9"],
    ])("fails open when Redis %s: served, and the audit record says global_limit_fail_open", async (_what, url) => {
      await mockScenario("gw-global-hang", { fault: "hang" });
      await setGlobal({ external: { requests_per_minute: 1_000 } });
      const t = await seedTenant();
      const down = { ...env, UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: "token" } as Env;
      const reply = await viaApp(down, t.apiKey);
      expect(reply.status).toBe(200);
      // The deadline, not the 2 s admission timeout, bounds the wait (the upstream call adds a little).
      expect(reply.elapsedMs).toBeLessThan(GLOBAL_TIMEOUT_MS + 1_500);
      expect(await auditFlags(reply.requestId)).toContain(GLOBAL_FAIL_OPEN_FLAG);
      if (url.includes("gw-global-hang")) expect((await mockRequests("gw-global-hang")).count).toBeGreaterThan(0);
    }, 20_000);
  });
});
