// Admin audit, usage and compliance export through the real Worker and database: any tenant's
// records, 404 for unknown tenants, NDJSON and CSV streamed page by page with exact escaping.
import { env, SELF } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../../src/admin-ledger/csv";
import { auditExportStream, CSV_COLUMNS } from "../../src/admin-ledger/export";
import { createDb } from "../../src/db/client";
import type { AuditRecord } from "../../src/db/ledger";
import { seedTenant, type SeededKey } from "../fixtures/seed";
import { ADMIN_TOKEN, auditRows, bearer, get, insertAudit, ledger, pageAll } from "./audit-helpers";

afterAll(() => ledger.dispose());

const ADMIN = bearer(ADMIN_TOKEN);
const BASE = Math.floor((Date.now() - 7_200_000) / 1000) * 1000 + 500;
const WINDOW = `from=${new Date(BASE - 86_400_000).toISOString()}&to=${new Date(BASE + 1).toISOString()}`;
const HOSTILE = 'gpt,"quoted"\nsecond line\r\nthird';
const FORMULA = '=HYPERLINK("http://evil.example","x")';

let t: SeededKey;
let rows: AuditRecord[];

beforeAll(async () => {
  t = await seedTenant({ balanceMicros: 0 });
  rows = auditRows(t.tenantId, [t.keyId], 60, BASE);
  rows[5] = { ...rows[5]!, model: HOSTILE, route: FORMULA, meta: { note: 'a,"b"\nc', cost_micros: 1 } };
  rows.push({ traceId: `adm-${t.tenantId}`, requestId: `adm-${t.tenantId}`, tenantId: t.tenantId, channel: "admin", route: "POST /admin/v1/tenants/{id}/credits", status: 200, occurredAt: new Date(BASE - 100), meta: { actor: "admin", action: "credit.apply" } });
  await insertAudit(rows);
});

describe("admin audit and usage", () => {
  it("lists any tenant's records with the operator's fields, operator records included", async () => {
    const { items } = await pageAll(`/admin/v1/tenants/${t.tenantId}/audit?limit=25`, ADMIN);
    expect(items).toHaveLength(61);
    expect(new Set(items.map((r) => r.request_id)).size).toBe(61);
    const one = items.find((r) => r.request_id === `req-${t.tenantId}-2`);
    expect(one).toMatchObject({ tenant_id: t.tenantId, upstream: "preset-x", config_version: 3, status: 502, error_source: "upstream", upstream_status: 500 });
    expect(one.step_timings).toEqual([{ name: "verify_signature", status: "ok", duration_ms: 1, attempts: 1 }]);
    expect(one.meta).toMatchObject({ input_tokens: 2, cost_micros: 6 });
    const channels = await get(`/admin/v1/tenants/${t.tenantId}/audit?request_id=adm-${t.tenantId}`, ADMIN);
    expect(channels.body.data.map((r: any) => r.channel)).toEqual(["admin"]);
  });

  it("filters like the tenant API", async () => {
    const reply = await get(`/admin/v1/tenants/${t.tenantId}/audit?status=429&limit=500`, ADMIN);
    expect(reply.body.data.length).toBe(rows.filter((r) => r.status === 429).length);
    expect((await get(`/admin/v1/tenants/${t.tenantId}/audit?cursor=bogus`, ADMIN)).status).toBe(400);
  });

  it("usage has the tenant API's shape", async () => {
    const reply = await get(`/admin/v1/tenants/${t.tenantId}/usage?from=2026-01-01&to=2026-01-31`, ADMIN);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ object: "usage", from: "2026-01-01", to: "2026-01-31", data: [], total: { requests: 0, input_tokens: 0, output_tokens: 0, cost_micros: 0, cache_hits: 0, cache_hit_cost_micros: 0 } });
  });

  it("unknown tenants are 404 on every route; a malformed id is 400; no or wrong token is 401", async () => {
    for (const path of ["/audit", "/usage", `/audit/export?${WINDOW}`]) {
      const unknown = await get(`/admin/v1/tenants/ten_doesnotexist${path}`, ADMIN);
      expect({ path, status: unknown.status, code: unknown.body?.error?.code }).toEqual({ path, status: 404, code: "not_found" });
      expect((await get(`/admin/v1/tenants/bad:id${path}`, ADMIN)).status).toBe(400);
      expect((await get(`/admin/v1/tenants/${t.tenantId}${path}`, {})).status).toBe(401);
      expect((await get(`/admin/v1/tenants/${t.tenantId}${path}`, bearer(t.apiKey))).status).toBe(401);
    }
  });
});

async function exportText(query: string): Promise<{ res: Response; text: string }> {
  const res = await SELF.fetch(`https://gw.test/admin/v1/tenants/${t.tenantId}/audit/export?${query}`, { headers: ADMIN });
  // Decoded by hand: workerd warns when .text() reads a body whose type is not text/*.
  return { res, text: new TextDecoder().decode(await res.arrayBuffer()) };
}

describe("compliance export", () => {
  it("NDJSON: every record of the window once, oldest first, values exact", async () => {
    const { res, text } = await exportText(`${WINDOW}&format=ndjson`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-ten_\w+-\w+-\w+\.ndjson"$/);
    const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(61);
    const times = lines.map((l) => Date.parse(l.created_at));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    const hostile = lines.find((l) => l.request_id === `req-${t.tenantId}-5`);
    expect(hostile).toMatchObject({ model: HOSTILE, route: FORMULA, meta: { note: 'a,"b"\nc', cost_micros: 1 } });
  });

  it("CSV: header, one row per record, commas, quotes and line breaks escaped, formulas neutralised", async () => {
    const { res, text } = await exportText(`${WINDOW}&format=csv`);
    expect(res.headers.get("content-type")).toMatch(/^text\/csv/);
    const table = parseCsv(text);
    expect(table[0]).toEqual([...CSV_COLUMNS]);
    expect(table).toHaveLength(62);
    expect(table.every((r) => r.length === CSV_COLUMNS.length)).toBe(true);
    const col = (name: (typeof CSV_COLUMNS)[number]) => CSV_COLUMNS.indexOf(name);
    const hostile = table.find((r) => r[col("request_id")] === `req-${t.tenantId}-5`)!;
    expect(hostile[col("model")]).toBe(HOSTILE);
    expect(hostile[col("route")]).toBe(`'${FORMULA}`);
    expect(JSON.parse(hostile[col("meta")]!)).toEqual({ note: 'a,"b"\nc', cost_micros: 1 });
    expect(text).toContain(`"gpt,""quoted""\nsecond line\r\nthird"`);
  });

  it("respects the window and filters, and refuses a missing window or an unknown format", async () => {
    const narrow = await exportText(`from=${new Date(BASE - 10_000).toISOString()}&to=${new Date(BASE - 1_000).toISOString()}&status=200`);
    const got = narrow.text.trimEnd().split("\n").map((l) => JSON.parse(l).request_id).sort();
    const at = (r: AuditRecord) => Date.parse(r.occurredAt instanceof Date ? r.occurredAt.toISOString() : String(r.occurredAt));
    const want = rows.filter((r) => r.status === 200 && at(r) >= BASE - 10_000 && at(r) < BASE - 1_000).map((r) => r.requestId).sort();
    expect(want.length).toBeGreaterThan(0);
    expect(got).toEqual(want);
    for (const query of [`to=${new Date(BASE).toISOString()}`, `from=${new Date(BASE).toISOString()}`, `${WINDOW}&format=xml`, `${WINDOW}&limit=5`]) {
      expect((await exportText(query)).res.status, query).toBe(400);
    }
  });
});

describe("compliance export at size", { timeout: 120_000 }, () => {
  const N = 12_345;
  let big: SeededKey;
  // Days back, so the export's own audit record (written now) is outside the window.
  const bigBase = BASE - 5 * 86_400_000;
  const bigWindow = `from=${new Date(bigBase - 86_400_000).toISOString()}&to=${new Date(bigBase + 86_400_000).toISOString()}`;

  beforeAll(async () => {
    big = await seedTenant({ balanceMicros: 0 });
    const records = auditRows(big.tenantId, [big.keyId], N, bigBase);
    for (let i = 0; i < records.length; i += 2_000) await insertAudit(records.slice(i, i + 2_000));
  });

  it("streams 12,345 rows across keyset pages: each once, and pages are read as the client reads", async () => {
    const started = Date.now();
    const res = await SELF.fetch(`https://gw.test/admin/v1/tenants/${big.tenantId}/audit/export?${bigWindow}`, { headers: ADMIN });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let chunks = 0;
    let firstChunkAt = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks += 1;
      if (chunks === 1) {
        firstChunkAt = Date.now() - started;
        // Written after the stream began, sorting last in the window: only a lazily read page finds it.
        await insertAudit([{ ...auditRows(big.tenantId, [big.keyId], 1, bigBase + 1000, "late")[0]!, occurredAt: new Date(bigBase + 1000) }]);
      }
      text += decoder.decode(value, { stream: true });
    }
    const seconds = (Date.now() - started) / 1000;
    const ids = text.trimEnd().split("\n").map((l) => JSON.parse(l).request_id as string);
    expect(ids).toHaveLength(N + 1);
    expect(new Set(ids).size).toBe(N + 1);
    expect(ids[ids.length - 1]).toBe("req-late-0");
    console.log(`[figure] audit export NDJSON: ${N + 1} rows, ${(text.length / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s (${Math.round((N + 1) / seconds)} rows/s, first bytes after ${firstChunkAt} ms, ${chunks} chunks)`);

    const csvStarted = Date.now();
    const csv = await SELF.fetch(`https://gw.test/admin/v1/tenants/${big.tenantId}/audit/export?${bigWindow}&format=csv`, { headers: ADMIN });
    const csvText = new TextDecoder().decode(await csv.arrayBuffer());
    const csvSeconds = (Date.now() - csvStarted) / 1000;
    expect(parseCsv(csvText)).toHaveLength(N + 2);
    console.log(`[figure] audit export CSV: ${N + 1} rows in ${csvSeconds.toFixed(2)} s (${Math.round((N + 1) / csvSeconds)} rows/s)`);
  });
});

describe("export stream ends", () => {
  const filters = () => ({ from: new Date(BASE - 86_400_000).toISOString(), to: new Date(BASE + 1).toISOString() });

  it("a database lost mid-export errors the stream (the transfer breaks) and reports the rows written", async () => {
    const handle = createDb(env, { max: 1 });
    const ends: unknown[] = [];
    const stream = await auditExportStream({ db: handle.db, tenantId: t.tenantId, filters: filters(), format: "ndjson", chunkRows: 10, onEnd: (e) => ends.push(e) });
    const reader = stream.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value).trimEnd().split("\n")).toHaveLength(10);
    await handle.dispose();
    let failure: unknown;
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeDefined();
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ ending: "failed" });
    expect((ends[0] as { rows: number }).rows).toBeLessThan(61);
  });

  it("a client that goes away cancels it, once", async () => {
    const handle = createDb(env, { max: 1 });
    const ends: { ending: string; rows: number }[] = [];
    const stream = await auditExportStream({ db: handle.db, tenantId: t.tenantId, filters: filters(), format: "csv", chunkRows: 10, onEnd: (e) => ends.push(e) });
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel("client left");
    await handle.dispose();
    expect(ends).toEqual([{ rows: expect.any(Number), ending: "cancelled", error: "client left" }]);
  });
});
