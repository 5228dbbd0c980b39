// Idempotency-Key through the real Worker, TenantGuard, mock upstream, queues and ledger: one upstream
// call and one debit however often (and however concurrently) a key is retried, identical answers,
// 409 for another body, 400 for a malformed key, keys scoped per tenant, streams replayed as streams.
import { env, SELF } from "cloudflare:test";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { queuesDrained } from "../fixtures/queues";
import { waitUntil } from "../fixtures/wait";

const handle = createDb(env);
afterAll(() => handle.dispose());

const CHAT = "https://gw.test/external/v1/chat/completions";
/** A client's pause before retrying (behaviour under test, not synchronisation). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function send(tenant: SeededKey, key: string | null, body: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" };
  if (key !== null) headers["idempotency-key"] = key;
  return SELF.fetch(CHAT, { method: "POST", headers, body: JSON.stringify(body) });
}

/** What a well-behaved client does: on idempotency_key_in_use, wait and retry; returns the final answer and how many waits. */
async function sendUntilAnswered(tenant: SeededKey, key: string, body: unknown): Promise<{ status: number; text: string; headers: Headers; waits: number }> {
  for (let waits = 0; waits < 200; waits++) {
    const res = await send(tenant, key, body);
    const text = await res.text();
    if (res.status === 409 && JSON.parse(text).error.code === "idempotency_key_in_use") {
      expect(res.headers.get("retry-after")).toBe("1");
      await sleep(25); // sooner than Retry-After asks, to keep the test short
      continue;
    }
    return { status: res.status, text, headers: res.headers, waits };
  }
  throw new Error("still in use after 200 retries");
}

async function setup(scenario: string, settings: Record<string, unknown> = {}): Promise<SeededKey> {
  await mockScenario(scenario, settings);
  await seedPresets(mockPresets(scenario));
  return seedTenant();
}

async function count(table: "billing_transaction" | "audit_log", tenantId: string): Promise<number> {
  const row = await handle.db.selectFrom(table).select(sql<string>`count(*)`.as("n")).where("tenant_id", "=", tenantId).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Waits until every request's audit row is in, then until the queues have delivered everything sent before. */
async function ledgerSettled(tenantId: string, requests: number): Promise<{ debits: number; audits: number }> {
  await waitUntil(`${requests} audit rows`, async () => (await count("audit_log", tenantId)) >= requests, { timeoutMs: 30_000, intervalMs: 100 });
  await queuesDrained(handle.db);
  return { debits: await count("billing_transaction", tenantId), audits: await count("audit_log", tenantId) };
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: "mock-openai-chat", messages: [{ role: "user", content }], ...extra });

describe("Idempotency-Key", { timeout: 60_000 }, () => {
  it("100 sequential retries: 1 upstream call, 1 debit, 100 identical bodies", async () => {
    const tenant = await setup("idem-seq");
    const body = chat("charge me once");
    const answers = [];
    for (let i = 0; i < 100; i++) answers.push(await sendUntilAnswered(tenant, "order-42", body));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers.slice(1).every((a) => a.headers.get("idempotent-replayed") === "true")).toBe(true);
    expect(answers[0]!.headers.get("idempotent-replayed")).toBeNull();
    expect(answers.at(-1)!.headers.get("content-type")).toBe("application/json");
    expect((await mockRequests("idem-seq")).count).toBe(1);
    expect(await ledgerSettled(tenant.tenantId, 100)).toEqual({ debits: 1, audits: 100 });
    const replays = await handle.db.selectFrom("audit_log").select("flags").where("tenant_id", "=", tenant.tenantId).execute();
    expect(replays.filter((r) => r.flags.includes("idempotent_replay"))).toHaveLength(99);
    const snapshot = await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(tenant.tenantId)).snapshot();
    expect(snapshot.openHolds).toBe(0);
    const usage = JSON.parse(answers[0]!.text).usage;
    expect(snapshot.balanceMicros).toBe(10_000_000 - (usage.prompt_tokens * 1 + usage.completion_tokens * 2));
    console.log(`[figure] idempotency sequential: 100 requests -> 1 upstream call, 1 debit, ${answers.reduce((n, a) => n + a.waits, 0)} in_use waits`);
  });

  it("50 concurrent: exactly 1 upstream call and 1 debit; the rest replay or wait (in_use) and then replay", async () => {
    const tenant = await setup("idem-burst", { latency_ms: 150 });
    const body = chat("fifty at once");
    const first = await Promise.all(Array.from({ length: 50 }, () => send(tenant, "burst-1", body)));
    const statuses = first.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const codes = await Promise.all(first.filter((r) => r.status !== 200).map(async (r) => JSON.parse(await r.text()).error.code));
    expect(codes.every((c) => c === "idempotency_key_in_use")).toBe(true);
    const winner = await first.find((r) => r.status === 200)!.text();
    const retried = await Promise.all(codes.map(() => sendUntilAnswered(tenant, "burst-1", body)));
    expect(retried.every((a) => a.status === 200 && a.text === winner)).toBe(true);
    expect((await mockRequests("idem-burst")).count).toBe(1);
    expect((await ledgerSettled(tenant.tenantId, 50 + codes.length)).debits).toBe(1);
    console.log(`[figure] idempotency concurrent: 50 at once -> 1 upstream call, 1 debit, ${codes.length} in_use then replayed`);
  });

  it("the same key with another body is a 409 conflict, in flight or completed", async () => {
    const tenant = await setup("idem-conflict", { latency_ms: 300 });
    const pending = send(tenant, "k-conflict", chat("first body"));
    // In flight: the upstream (300 ms slow) has the first request.
    await waitUntil("the first request upstream", async () => (await mockRequests("idem-conflict")).count === 1);
    const during = await send(tenant, "k-conflict", chat("second body"));
    expect(during.status).toBe(409);
    expect((await during.json()) as unknown).toMatchObject({ error: { code: "idempotency_key_conflict", param: "Idempotency-Key", type: "conflict_error" } });
    expect((await pending).status).toBe(200);
    await sendUntilAnswered(tenant, "k-conflict", chat("first body"));
    for (const other of [chat("second body"), chat("first body", { temperature: 0.5 })]) {
      const res = await send(tenant, "k-conflict", other);
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("idempotency_key_conflict");
    }
    expect((await mockRequests("idem-conflict")).count).toBe(1);
  });

  it("a malformed key is a 400 naming the header, before any upstream call", async () => {
    const tenant = await setup("idem-bad");
    for (const key of ["x".repeat(256), "tab\there", "bell\u0007", "caf\u00e9", ""]) {
      const res = await send(tenant, key, chat("bad key"));
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect((await res.json()) as unknown).toMatchObject({ error: { code: "invalid_request", param: "Idempotency-Key" } });
    }
    expect((await send(tenant, "x".repeat(255), chat("longest key"))).status).toBe(200);
    expect((await send(tenant, " !~printable ASCII key~! ", chat("spaces inside"))).status).toBe(200);
    expect((await mockRequests("idem-bad")).count).toBe(2);
  });

  it("keys are scoped per tenant: tenant B's request with A's key string proceeds on its own", async () => {
    const a = await setup("idem-scope");
    const b = await seedTenant();
    const body = chat("same key, two tenants");
    const fromA = await sendUntilAnswered(a, "shared-key", body);
    const fromB = await sendUntilAnswered(b, "shared-key", body);
    expect([fromA.status, fromB.status]).toEqual([200, 200]);
    expect(fromB.headers.get("idempotent-replayed")).toBeNull();
    expect((await mockRequests("idem-scope")).count).toBe(2);
    expect((await sendUntilAnswered(b, "shared-key", body)).text).toBe(fromB.text);
    expect((await sendUntilAnswered(a, "shared-key", body)).text).toBe(fromA.text);
    expect((await mockRequests("idem-scope")).count).toBe(2);
  });

  it("a streamed request is replayed as the same SSE text, as a stream", async () => {
    const tenant = await setup("idem-stream", { chunks: 6 });
    const body = chat("stream me", { stream: true });
    const first = await send(tenant, "stream-1", body);
    expect(first.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const original = await first.text();
    expect(original).toContain("data: [DONE]");
    const replay = await sendUntilAnswered(tenant, "stream-1", body);
    expect(replay.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.text).toBe(original);
    expect((await mockRequests("idem-stream")).count).toBe(1);
    expect((await ledgerSettled(tenant.tenantId, 2)).debits).toBe(1);
  });

  it("a failed request frees its key: the retry reaches the upstream and is then replayed", async () => {
    const tenant = await setup("idem-fail", { status: 400, fail_times: 1, error_message: "bad luck" });
    const body = chat("fail then succeed");
    const failed = await send(tenant, "retry-me", body);
    expect(failed.status).toBe(400);
    const ok = await sendUntilAnswered(tenant, "retry-me", body);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("idempotent-replayed")).toBeNull();
    const replay = await sendUntilAnswered(tenant, "retry-me", body);
    expect(replay.text).toBe(ok.text);
    expect((await mockRequests("idem-fail")).count).toBe(2);
  });

  it("a response over the 1 MiB replay limit is served once; a retry gets 409 saying why", async () => {
    const tenant = await setup("idem-big", { completion_tokens: 160_000 });
    // The client's own cap: without one, the preset's 4,096 tokens would be sent and the answer stay small.
    const body = chat("a very long answer", { max_tokens: 200_000 });
    const first = await send(tenant, "big-1", body);
    expect(first.status).toBe(200);
    expect((await first.text()).length).toBeGreaterThan(1_048_576);
    const again = await sendUntilAnswered(tenant, "big-1", body);
    expect(again.status).toBe(409);
    expect(JSON.parse(again.text).error).toMatchObject({ code: "idempotency_key_conflict", param: "Idempotency-Key" });
    expect(JSON.parse(again.text).error.message).toMatch(/replay limit/);
    expect((await mockRequests("idem-big")).count).toBe(1);
  });

  it("the internal channel ignores the header (service callers deduplicate with their own ids)", async () => {
    await setup("idem-internal");
    const service = await seedService();
    const call = () =>
      SELF.fetch("https://gw.test/internal/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${service.token}`, "content-type": "application/json", "idempotency-key": "svc-key" },
        body: JSON.stringify(chat("internal")),
      });
    expect([(await call()).status, (await call()).status]).toEqual([200, 200]);
    expect((await mockRequests("idem-internal")).count).toBe(2);
  });
});
