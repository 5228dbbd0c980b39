// Response cache, money and control: a hit is billed at the preset's cache price through the same
// settlement, flagged cache_hit in the ledger and the audit record; N concurrent identical misses make
// one upstream call; admin purge by tenant, preset and entry key, in its own role area.
import { env, SELF } from "cloudflare:test";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { mockRequests, seedTenant } from "../fixtures/seed";
import { queuesDrained } from "../fixtures/queues";
import { waitUntil } from "../fixtures/wait";
import { cachedPresets, chat, send, storedFrom } from "../fixtures/response-cache";
import { admin } from "./admin-helpers";

const handle = createDb(env);
afterAll(() => handle.dispose());

const ON = { cache: { enabled: true, ttl_s: 300 } };

describe("response cache billing, single flight and purge", () => {
  it("a hit is billed at the preset's cache price and flagged cache_hit in the ledger and the audit record", async () => {
    await cachedPresets("rc-bill", { hit_price_micros: 500 });
    const key = await seedTenant({ tenant: ON });
    const miss = await send(key, chat("bill me"));
    const answer = (await miss.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    await storedFrom(miss);
    const hit = await send(key, chat("bill me"));
    expect(hit.headers.get("x-gateway-cache")).toBe("hit");
    const hitRequest = hit.headers.get("x-gateway-request-id")!;
    await waitUntil("2 audit rows", async () => (await handle.db.selectFrom("audit_log").select("request_id").where("tenant_id", "=", key.tenantId).execute()).length >= 2, { timeoutMs: 30_000, intervalMs: 100 });
    await queuesDrained(handle.db);
    const ledger = await handle.db.selectFrom("billing_transaction").selectAll().where("tenant_id", "=", key.tenantId).execute();
    const hitRow = ledger.find((r) => r.request_id === hitRequest)!;
    expect(Number(hitRow.amount_micros)).toBe(-500);
    expect((hitRow.meta as { flags?: string[] }).flags).toContain("cache_hit");
    expect(Number(hitRow.input_tokens) + Number(hitRow.output_tokens)).toBe(0);
    const audit = await handle.db.selectFrom("audit_log").selectAll().where("request_id", "=", hitRequest).executeTakeFirstOrThrow();
    expect(audit.flags).toContain("cache_hit");
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(key.tenantId)).snapshot();
    expect(snapshot.openHolds).toBe(0);
    const missCost = answer.usage.prompt_tokens * 1 + answer.usage.completion_tokens * 2;
    expect(snapshot.balanceMicros).toBe(10_000_000 - missCost - 500);
    // The usage API counts the hit and its cost at the cache price, for the tenant and for an administrator.
    const mine = await SELF.fetch("https://gw.test/external/v1/usage", { headers: { authorization: `Bearer ${key.apiKey}` } });
    expect(mine.status).toBe(200);
    const theirs = await admin("GET", `/tenants/${key.tenantId}/usage`);
    for (const report of [(await mine.json()) as { data: unknown[]; total: unknown }, theirs.body]) {
      expect(report.data).toEqual([expect.objectContaining({ model: "mock-openai-chat", key_id: key.keyId, requests: 2, cost_micros: missCost + 500, cache_hits: 1, cache_hit_cost_micros: 500 })]);
      expect(report.total).toEqual({
        requests: 2,
        input_tokens: answer.usage.prompt_tokens,
        output_tokens: answer.usage.completion_tokens,
        cost_micros: missCost + 500,
        cache_hits: 1,
        cache_hit_cost_micros: 500,
      });
    }
  });

  it("single flight: 8 concurrent identical misses make one upstream call, the others are served its answer", async () => {
    await cachedPresets("rc-flight", {}, { latency_ms: 400 });
    const key = await seedTenant({ tenant: ON });
    const answers = await Promise.all(Array.from({ length: 8 }, () => send(key, chat("everyone at once"))));
    const results = answers.map((r) => r.headers.get("x-gateway-cache"));
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r === "miss")).toHaveLength(1);
    expect(results.filter((r) => r === "hit")).toHaveLength(7);
    expect(new Set(bodies).size).toBe(1);
    expect((await mockRequests("rc-flight")).count).toBe(1);
  });

  it("purge by tenant, by preset and by key makes the next request a miss; the area is cache", async () => {
    const items = await cachedPresets("rc-purge");
    const key = await seedTenant({ tenant: ON });
    const stored = async (content: string) => storedFrom(await send(key, chat(content)));
    const result = async (content: string) => (await send(key, chat(content))).headers.get("x-gateway-cache");

    await stored("purge tenant");
    expect(await result("purge tenant")).toBe("hit");
    const byTenant = await admin("POST", `/tenants/${key.tenantId}/cache/purge`);
    expect(byTenant.status).toBe(200);
    expect(await result("purge tenant")).toBe("miss");

    await stored("purge preset");
    expect((await admin("POST", "/cache/purge", { preset_id: items[0]!.id })).status).toBe(200);
    expect(await result("purge preset")).toBe("miss");

    const entry = await stored("purge key");
    expect(await result("purge key")).toBe("hit");
    expect((await admin("POST", "/cache/purge", { key: entry })).body).toEqual({ purged: "key", id: entry });
    expect(await result("purge key")).toBe("miss");

    expect((await admin("POST", "/cache/purge", { preset_id: "a", key: entry })).status).toBe(400);
    expect((await admin("POST", "/tenants/ten_nope/cache/purge")).status).toBe(404);
  });
});
