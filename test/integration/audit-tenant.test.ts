// GET /external/v1/audit and /usage through the real Worker and database: every row exactly once
// across pages, each filter, exact usage totals, and a tenant never seeing another tenant's records.
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { recordBillingEvents, type AuditRecord, type BillingEvent } from "../../src/db/ledger";
import { signRequest } from "../../src/security/signature";
import { mockPresets, mockScenario, seedKey, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { auditRows, bearer, get, insertAudit, ledger, newestFirst, pageAll } from "./audit-helpers";
import { waitFor } from "../fixtures/wait";

afterAll(() => ledger.dispose());

let a: SeededKey;
let a2: SeededKey;
let b: SeededKey;
let rowsA: AuditRecord[];
let rowsB: AuditRecord[];
let ids: Map<string, string>;
// Half-way through a second, so no bound below falls on a record's time at millisecond precision.
const BASE = Math.floor((Date.now() - 3_600_000) / 1000) * 1000 + 500;

beforeAll(async () => {
  a = await seedTenant({ balanceMicros: 0 });
  a2 = await seedKey(a.tenantId);
  b = await seedTenant({ balanceMicros: 0 });
  rowsA = auditRows(a.tenantId, [a.keyId, a2.keyId], 137, BASE);
  rowsB = auditRows(b.tenantId, [b.keyId], 40, BASE);
  // an operator record about tenant A: not one of A's API calls, so not in A's list
  const adminRow: AuditRecord = { traceId: `admin-${a.tenantId}`, requestId: `admin-${a.tenantId}`, tenantId: a.tenantId, channel: "admin", route: "PATCH /admin/v1/tenants/{id}", status: 200, meta: { actor: "admin" } };
  await insertAudit([...rowsA, ...rowsB, adminRow]);
  const stored = await ledger.db.selectFrom("audit_log").select(["id", "request_id"]).where("tenant_id", "in", [a.tenantId, b.tenantId]).execute();
  ids = new Map(stored.map((r) => [r.request_id, r.id]));
});

const A = () => bearer(a.apiKey);

describe("GET /external/v1/audit: pagination", () => {
  it("returns every record exactly once across pages, newest first, ties broken by id", async () => {
    const { items, pages } = await pageAll("/external/v1/audit?limit=10", A());
    expect(pages).toBe(14);
    expect(items.map((r) => r.request_id)).toEqual(newestFirst(rowsA, ids));
    expect(new Set(items.map((r) => r.request_id)).size).toBe(137);
  });

  it("defaults to 50 per page, allows 500, and the last page has no cursor", async () => {
    const first = await get("/external/v1/audit", A());
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("no-store");
    expect(first.body).toMatchObject({ object: "list" });
    expect(first.body.data).toHaveLength(50);
    expect(typeof first.body.next_cursor).toBe("string");
    const all = await get("/external/v1/audit?limit=500", A());
    expect(all.body.data).toHaveLength(137);
    expect(all.body.next_cursor).toBeNull();
  });

  it("shows the tenant's view of a record: attribution and usage, no upstream or config internals", async () => {
    const reply = await get(`/external/v1/audit?request_id=req-${a.tenantId}-2`, A());
    expect(reply.body.data).toEqual([
      {
        object: "audit_record",
        request_id: `req-${a.tenantId}-2`,
        trace_id: `trace-${a.tenantId}-2`,
        created_at: new Date(BASE - 2000).toISOString(),
        key_id: a.keyId,
        channel: "external",
        route: "/external/v1/chat/completions",
        model: "mock-embed",
        status: 502,
        error_code: "upstream_error",
        error_source: "upstream",
        upstream_status: 500,
        latency_ms: 12,
        input_tokens: 2,
        output_tokens: 4,
        usage_estimated: false,
        cost_micros: 6,
        stream: true,
        ending: "complete",
        flags: [],
      },
    ]);
  });

  it("refuses malformed cursors, limits and parameters with a 400 naming the parameter", async () => {
    for (const [query, param] of [
      ["cursor=garbage!", "cursor"],
      [`cursor=${btoa("a1|2026-01-01T00:00:00.000000Z|0")}`, "cursor"],
      ["cursor=", "cursor"],
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=ten", "limit"],
      ["status=abc", "status"],
      ["from=yesterday", "from"],
      ["from=2026-02-01&to=2026-01-01", "from"],
      ["tenant_id=" + b.tenantId, "tenant_id"],
    ] as const) {
      const reply = await get(`/external/v1/audit?${query}`, A());
      expect({ query, status: reply.status, code: reply.body?.error?.code, param: reply.body?.error?.param }).toEqual({ query, status: 400, code: "invalid_request", param });
    }
  });
});

describe("GET /external/v1/audit: filters", () => {
  const expectSet = async (query: string, keep: (r: AuditRecord) => boolean) => {
    const { items } = await pageAll(`/external/v1/audit?limit=17&${query}`, A());
    const expected = newestFirst(rowsA.filter(keep), ids);
    expect(expected.length, query).toBeGreaterThan(0);
    expect(items.map((r) => r.request_id), query).toEqual(expected);
  };
  const at = (r: AuditRecord) => Date.parse(String(r.occurredAt instanceof Date ? r.occurredAt.toISOString() : r.occurredAt));

  it("key_id, model, status, status class, error_code", async () => {
    await expectSet(`key_id=${a2.keyId}`, (r) => r.keyId === a2.keyId);
    await expectSet("model=mock-anthropic-chat", (r) => r.model === "mock-anthropic-chat");
    await expectSet("status=429", (r) => r.status === 429);
    await expectSet("status=5xx", (r) => r.status >= 500);
    await expectSet("error_code=upstream_error", (r) => r.errorCode === "upstream_error");
    await expectSet(`key_id=${a.keyId}&status=2xx&model=mock-openai-chat`, (r) => r.keyId === a.keyId && r.status === 200 && r.model === "mock-openai-chat");
  });

  it("from (inclusive) and to (exclusive) on the request time", async () => {
    const from = new Date(BASE - 60_000).toISOString();
    const to = new Date(BASE - 10_000).toISOString();
    await expectSet(`from=${from}&to=${to}`, (r) => at(r) >= BASE - 60_000 && at(r) < BASE - 10_000);
    await expectSet(`to=${new Date(BASE - 499_999).toISOString()}`, (r) => at(r) < BASE - 499_999);
  });

  it("an unknown value matches nothing", async () => {
    const reply = await get("/external/v1/audit?model=no-such-model", A());
    expect(reply.body).toEqual({ object: "list", data: [], next_cursor: null });
  });
});

describe("GET /external/v1/audit: tenant isolation", () => {
  it("tenant B's trace and request ids, queried with A's key, return nothing", async () => {
    for (const query of [`trace_id=trace-${b.tenantId}-3`, `request_id=req-${b.tenantId}-3`, `key_id=${b.keyId}`]) {
      const reply = await get(`/external/v1/audit?${query}`, A());
      expect(reply.status).toBe(200);
      expect(reply.body.data).toEqual([]);
    }
    // while B sees its own
    const own = await get(`/external/v1/audit?trace_id=trace-${b.tenantId}-3`, bearer(b.apiKey));
    expect(own.body.data.map((r: any) => r.request_id)).toEqual([`req-${b.tenantId}-3`]);
  });

  it("a cursor from B's listing, or a tenant header, never switches tenants", async () => {
    const pageB = await get("/external/v1/audit?limit=5", bearer(b.apiKey));
    const reply = await get(`/external/v1/audit?limit=500&cursor=${pageB.body.next_cursor}`, { ...A(), "x-tenant-id": b.tenantId });
    expect(reply.status).toBe(200);
    expect(reply.body.data.length).toBeGreaterThan(0);
    expect(reply.body.data.every((r: any) => r.request_id.startsWith(`req-${a.tenantId}-`))).toBe(true);
  });

  it("operator records about the tenant are not in its list", async () => {
    const reply = await get(`/external/v1/audit?request_id=admin-${a.tenantId}`, A());
    expect(reply.body.data).toEqual([]);
  });

  it("needs a valid key: none, wrong, frozen, or the internal channel", async () => {
    expect((await get("/external/v1/audit", {})).status).toBe(401);
    expect((await get("/external/v1/audit", bearer("gk_" + "x".repeat(36)))).status).toBe(401);
    expect((await get("/internal/v1/audit", A())).status).toBe(404);
    const frozen = await seedKey(a.tenantId);
    await env.TENANT_GUARD.get(env.TENANT_GUARD.idFromName(a.tenantId)).setKeyStatus(frozen.keyId, "frozen");
    const reply = await get("/external/v1/audit", bearer(frozen.apiKey));
    expect({ status: reply.status, code: reply.body.error.code }).toEqual({ status: 403, code: "key_frozen" });
  });

  it("a key that must sign: a signed GET passes, the same signature over another query is 401", async () => {
    const signer = await seedKey(a.tenantId, { signature: "required" });
    const url = `https://gw.test/external/v1/audit?limit=3&key_id=${a.keyId}`;
    const headers = await signRequest({ key: signer.apiKey, secret: signer.signingSecret, method: "GET", url });
    const ok = await get(url.slice("https://gw.test".length), headers);
    expect(ok.status).toBe(200);
    expect(ok.body.data).toHaveLength(3);
    const replayedElsewhere = await get(`/external/v1/audit?limit=3&key_id=${a2.keyId}`, headers);
    expect(replayedElsewhere.status).toBe(401);
    expect((await get("/external/v1/audit", bearer(signer.apiKey))).status).toBe(401);
  });
});

describe("when the ledger database is down", () => {
  it("both routes answer 503 with the error body, never a 500 or a partial list", async () => {
    const down = { ...env, DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
    for (const path of ["/external/v1/audit", "/external/v1/usage"]) {
      const ctx = createExecutionContext();
      const res = await buildApp().fetch(new Request(`https://gw.test${path}`, { headers: A() }), down, ctx);
      await waitOnExecutionContext(ctx);
      const body = (await res.json()) as any;
      expect({ path, status: res.status, retryAfter: res.headers.get("retry-after") }).toEqual({ path, status: 503, retryAfter: "5" });
      expect(body.error.message).toMatch(/ledger database is unavailable/);
      expect(typeof body.trace_id).toBe("string");
    }
  });
});

describe("GET /external/v1/usage", () => {
  const day = (d: string) => `${d}T12:00:00Z`;
  const debit = (tenantId: string, keyId: string | null, requestId: string, model: string | null, amount: bigint, at: string, tokens: [number, number]): BillingEvent => ({
    tenantId, keyId, requestId, kind: "debit", amountMicros: -amount, model, inputTokens: tokens[0], outputTokens: tokens[1], occurredAt: at,
  });

  it("spend and tokens by day, model and key in the window, exact totals, big sums as strings", async () => {
    const t = a.tenantId;
    await recordBillingEvents(ledger.db, [
      debit(t, a.keyId, "u1", "m1", 1_500n, day("2026-02-01"), [10, 20]),
      debit(t, a.keyId, "u2", "m1", 2_500n, day("2026-02-01"), [1, 2]),
      debit(t, a2.keyId, "u3", "m2", 7n, day("2026-02-01"), [3, 4]),
      debit(t, a.keyId, "u4", "m1", 5_000_000_000_000_000n, day("2026-02-02"), [100, 200]),
      debit(t, a.keyId, "u5", "m1", 5_000_000_000_000_000n, day("2026-02-02"), [100, 200]),
      debit(t, null, "u6", null, 11n, "2026-02-02T23:59:59.999Z", [0, 0]),
      { tenantId: t, keyId: a.keyId, requestId: "u2-refund", kind: "refund", amountMicros: 500n, model: "m1", occurredAt: day("2026-02-01") },
      { tenantId: t, keyId: "admin", requestId: "credit:x", kind: "credit", amountMicros: 9_999n, occurredAt: day("2026-02-01") },
      debit(t, a.keyId, "u7", "m1", 999n, day("2026-01-31"), [5, 5]),
      debit(t, a.keyId, "u8", "m1", 999n, "2026-02-03T00:00:00.000Z", [5, 5]),
      debit(b.tenantId, b.keyId, "u1", "m1", 123n, day("2026-02-01"), [1, 1]),
    ]);
    const reply = await get("/external/v1/usage?from=2026-02-01&to=2026-02-02", A());
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      object: "usage",
      from: "2026-02-01",
      to: "2026-02-02",
      data: [
        { date: "2026-02-01", model: "m1", key_id: a.keyId, requests: 2, input_tokens: 11, output_tokens: 22, cost_micros: 3_500 },
        { date: "2026-02-01", model: "m2", key_id: a2.keyId, requests: 1, input_tokens: 3, output_tokens: 4, cost_micros: 7 },
        { date: "2026-02-02", model: "", key_id: null, requests: 1, input_tokens: 0, output_tokens: 0, cost_micros: 11 },
        { date: "2026-02-02", model: "m1", key_id: a.keyId, requests: 2, input_tokens: 200, output_tokens: 400, cost_micros: "10000000000000000" },
      ].map((r) => ({ ...r, model: r.model === "" ? null : r.model, cache_hits: 0, cache_hit_cost_micros: 0 })),
      total: { requests: 6, input_tokens: 214, output_tokens: 426, cost_micros: "10000000000003518", cache_hits: 0, cache_hit_cost_micros: 0 },
    });
    const other = await get("/external/v1/usage?from=2026-02-01&to=2026-02-01", bearer(b.apiKey));
    expect(other.body.data).toEqual([{ date: "2026-02-01", model: "m1", key_id: b.keyId, requests: 1, input_tokens: 1, output_tokens: 1, cost_micros: 123, cache_hits: 0, cache_hit_cost_micros: 0 }]);
  });

  it("refuses a reversed, over-long or malformed window", async () => {
    for (const query of ["from=2026-02-02&to=2026-02-01", "from=2024-01-01&to=2026-01-01", "from=2026-02-30", "from=02/01/2026", "day=2026-02-01"]) {
      const reply = await get(`/external/v1/usage?${query}`, A());
      expect({ query, status: reply.status, code: reply.body?.error?.code }).toEqual({ query, status: 400, code: "invalid_request" });
    }
  });

  it("defaults to the last 30 UTC days", async () => {
    const reply = await get("/external/v1/usage", A());
    expect(reply.status).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(reply.body.to).toBe(today);
    expect((Date.parse(reply.body.to) - Date.parse(reply.body.from)) / 86_400_000).toBe(29);
  });
});

describe("from a gateway request to the tenant's audit and usage", { timeout: 30_000 }, () => {
  const chat = (apiKey: string, content: string) =>
    SELF.fetch("https://gw.test/external/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content }] }),
    });

  const auditOf = (apiKey: string, requestId: string): Promise<any> =>
    waitFor(`the audit record of ${requestId}`, async () => (await get(`/external/v1/audit?request_id=${requestId}`, bearer(apiKey))).body?.data?.[0]);

  it("an upstream error is attributed to the upstream with its status; a success carries its usage", async () => {
    await seedPresets(mockPresets("audit-e2e"));
    const t = await seedTenant();
    await mockScenario("audit-e2e", { status: 400, error_message: "bad things" });
    const failed = await chat(t.apiKey, "please fail");
    const failedBody = (await failed.json()) as any;
    const failedRecord = await auditOf(t.apiKey, failed.headers.get("x-gateway-request-id")!);
    expect(failedRecord).toMatchObject({ status: failed.status, error_code: failedBody.error.code, error_source: "upstream", upstream_status: 400, key_id: t.keyId, model: "mock-openai-chat" });

    await mockScenario("audit-e2e", {});
    const okRes = await chat(t.apiKey, "please succeed");
    expect(okRes.status).toBe(200);
    const usage = ((await okRes.json()) as any).usage;
    const okRecord = await auditOf(t.apiKey, okRes.headers.get("x-gateway-request-id")!);
    expect(okRecord).toMatchObject({ status: 200, error_code: null, error_source: null, input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, ending: "complete" });
    expect(okRecord.trace_id).toBe(okRes.headers.get("x-trace-id"));

    const today = new Date().toISOString().slice(0, 10);
    const report = await waitFor("the usage report to count the request", async () => {
      const body = (await get(`/external/v1/usage?from=${today}&to=${today}`, bearer(t.apiKey))).body;
      return body.total.requests >= 1 && body;
    });
    expect(report.data).toEqual([
      { date: today, model: "mock-openai-chat", key_id: t.keyId, requests: 1, input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, cost_micros: okRecord.cost_micros, cache_hits: 0, cache_hit_cost_micros: 0 },
    ]);
  });
});
