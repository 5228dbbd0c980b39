// The Batch API through the real Worker: files in local R2, the BatchJob Durable Object, the gateway-batch
// queue and its consumer, the channel pipeline against the mock provider, and the Postgres ledger. Happy
// paths on both channels, create-time refusals naming the line, lines that fail into the error file, and
// owner isolation.
import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { BASE, chatLine, createBatch, fileLines, getBatch, jsonlOf, uploadFile, waitForBatch } from "../fixtures/batches";
import { waitFor } from "../fixtures/wait";
import { SELF } from "cloudflare:test";

const SCENARIO = "batches";
const handle = createDb(env);
afterAll(() => handle.dispose());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
let a: SeededKey;
let b: SeededKey;
let service: { serviceId: string; token: string };

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  [a, b, service] = await Promise.all([seedTenant(), seedTenant(), seedService()]);
});

const debitsOf = (batchId: string) => handle.db.selectFrom("billing_transaction").selectAll().where("batch_id", "=", batchId).where("kind", "=", "debit").execute();

describe("Batches: a batch runs every line once and bills each once (external)", () => {
  it("completes, writes OpenAI-shaped output lines, and bills each line once with the batch id on ledger and audit rows", async () => {
    const before = (await mockRequests(SCENARIO)).count;
    const fileId = await uploadFile("/external/v1", bearer(a.apiKey), jsonlOf([chatLine(1), chatLine(2), chatLine(3)]));
    const res = await createBatch("/external/v1", bearer(a.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h", metadata: { job: "nightly" } });
    expect(res.status).toBe(200);
    const created = (await res.json()) as any;
    expect(created).toMatchObject({ object: "batch", endpoint: "/v1/chat/completions", input_file_id: fileId, completion_window: "24h", metadata: { job: "nightly" }, request_counts: { total: 3 } });
    expect(created.id).toMatch(/^batch_/);
    expect(["validating", "in_progress"]).toContain(created.status);
    const done = await waitForBatch("/external/v1", bearer(a.apiKey), created.id);
    expect(done).toMatchObject({ status: "completed", request_counts: { total: 3, completed: 3, failed: 0 }, error_file_id: null });
    expect(done.completed_at).toBeGreaterThanOrEqual(created.created_at);
    expect(done.finalizing_at).not.toBeNull();
    const out = await fileLines("/external/v1", bearer(a.apiKey), done.output_file_id!);
    expect(out.map((l) => l.custom_id).sort()).toEqual(["req-1", "req-2", "req-3"]);
    for (const line of out) {
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response.status_code).toBe(200);
      expect(line.response.body.object).toBe("chat.completion");
      expect(typeof line.response.request_id).toBe("string");
    }
    expect((await mockRequests(SCENARIO)).count - before).toBe(3);
    // The output file is the owner's, purpose batch_output.
    const meta = (await (await SELF.fetch(`${BASE}/external/v1/files/${done.output_file_id}`, { headers: bearer(a.apiKey) })).json()) as any;
    expect(meta.purpose).toBe("batch_output");
    const debits = await waitFor("3 debits", async () => ((await debitsOf(created.id)).length === 3 ? debitsOf(created.id) : undefined));
    expect(new Set(debits.map((d) => d.request_id))).toEqual(new Set(out.map((l) => l.response.request_id)));
    for (const d of debits) expect(d.tenant_id).toBe(a.tenantId);
    const audits = await waitFor("3 audit rows", async () => {
      const rows = await handle.db.selectFrom("audit_log").selectAll().where("batch_id", "=", created.id).execute();
      return rows.length === 3 ? rows : undefined;
    });
    for (const row of audits) expect(row.status).toBe(200);
  });

  it("lines that fail (unknown model, malformed body, streaming asked) go to the error file; the batch still completes", async () => {
    const lines = [chatLine(1), chatLine(2, "no-such-model"), { custom_id: "bad-body", method: "POST", url: "/v1/chat/completions", body: { model: "mock-openai-chat", messages: "not a list" } }, chatLine(4, "mock-openai-chat", { stream: true })];
    const fileId = await uploadFile("/external/v1", bearer(a.apiKey), jsonlOf(lines));
    const created = (await (await createBatch("/external/v1", bearer(a.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as any;
    const done = await waitForBatch("/external/v1", bearer(a.apiKey), created.id);
    expect(done).toMatchObject({ status: "completed", request_counts: { total: 4, completed: 1, failed: 3 } });
    const errors = await fileLines("/external/v1", bearer(a.apiKey), done.error_file_id!);
    const byId = Object.fromEntries(errors.map((e) => [e.custom_id, e]));
    expect(byId["req-2"].error.code).toBe("model_not_found");
    expect(byId["req-2"].response.status_code).toBe(404);
    expect(byId["bad-body"].error.code).toBe("invalid_request");
    expect(byId["req-4"].error.code).toBe("invalid_request");
    expect((await fileLines("/external/v1", bearer(a.apiKey), done.output_file_id!)).map((l) => l.custom_id)).toEqual(["req-1"]);
    // Only the line that ran is billed.
    await waitFor("1 debit", async () => (await debitsOf(created.id)).length === 1);
  });
});

describe("Batches: the internal channel", () => {
  it("a service's batch of embeddings runs under the service and is billed to it", async () => {
    const lines = [1, 2].map((i) => ({ custom_id: `e-${i}`, method: "POST", url: "/v1/embeddings", body: { model: "mock-embed", input: `text ${i}` } }));
    const fileId = await uploadFile("/internal/v1", bearer(service.token), jsonlOf(lines));
    const res = await createBatch("/internal/v1", bearer(service.token), { input_file_id: fileId, endpoint: "/v1/embeddings", completion_window: "24h" });
    expect(res.status).toBe(200);
    const created = (await res.json()) as any;
    const done = await waitForBatch("/internal/v1", bearer(service.token), created.id);
    expect(done).toMatchObject({ status: "completed", request_counts: { total: 2, completed: 2, failed: 0 } });
    const out = await fileLines("/internal/v1", bearer(service.token), done.output_file_id!);
    expect(out.every((l) => l.response.body.object === "list")).toBe(true);
    const debits = await waitFor("2 debits", async () => ((await debitsOf(created.id)).length === 2 ? debitsOf(created.id) : undefined));
    for (const d of debits) expect(d.tenant_id).toBe(service.serviceId);
  });
});

describe("Batches: refused at create, naming the line", () => {
  const create = async (content: string, endpoint = "/v1/chat/completions") => {
    const fileId = await uploadFile("/external/v1", bearer(a.apiKey), content);
    return createBatch("/external/v1", bearer(a.apiKey), { input_file_id: fileId, endpoint, completion_window: "24h" });
  };

  it("a duplicate custom_id: 400 naming the line", async () => {
    const res = await create(jsonlOf([chatLine(1), chatLine(2), chatLine(1)]));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toMatch(/^Line 3 .*custom_id "req-1"/);
  });

  it("a url other than the endpoint, a missing custom_id, a GET: 400 naming the line", async () => {
    expect(((await (await create(jsonlOf([chatLine(1), chatLine(2)]), "/v1/embeddings")).json()) as any).error.message).toMatch(/^Line 1 .*url/);
    expect(((await (await create(jsonlOf([chatLine(1), { method: "POST", url: "/v1/chat/completions", body: {} }]))).json()) as any).error.message).toMatch(/^Line 2 .*custom_id/);
    expect(((await (await create(jsonlOf([{ ...chatLine(1), method: "GET" }]))).json()) as any).error.message).toMatch(/^Line 1 .*POST/);
  });

  it("an unknown file, another owner's file, and a bad completion_window are refused", async () => {
    const fileId = await uploadFile("/external/v1", bearer(a.apiKey), jsonlOf([chatLine(1)]));
    expect((await createBatch("/external/v1", bearer(b.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).status).toBe(404);
    expect((await createBatch("/external/v1", bearer(a.apiKey), { input_file_id: "file-doesnotexist0000000000", endpoint: "/v1/chat/completions", completion_window: "24h" })).status).toBe(404);
    expect((await createBatch("/external/v1", bearer(a.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "1h" })).status).toBe(400);
  });
});

describe("Batches: owner isolation (attack)", () => {
  it("another tenant and a service get 404 for a tenant's batch id, cannot cancel it and never list it", async () => {
    const fileId = await uploadFile("/external/v1", bearer(a.apiKey), jsonlOf([chatLine(1)]));
    const created = (await (await createBatch("/external/v1", bearer(a.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as any;
    for (const [path, auth] of [["/external/v1", bearer(b.apiKey)], ["/internal/v1", bearer(service.token)]] as const) {
      expect((await SELF.fetch(`${BASE}${path}/batches/${created.id}`, { headers: auth })).status).toBe(404);
      expect((await SELF.fetch(`${BASE}${path}/batches/${created.id}/cancel`, { method: "POST", headers: auth })).status).toBe(404);
      const list = (await (await SELF.fetch(`${BASE}${path}/batches?limit=100`, { headers: auth })).json()) as any;
      expect(list.data.map((x: any) => x.id)).not.toContain(created.id);
    }
    const own = await waitForBatch("/external/v1", bearer(a.apiKey), created.id);
    expect(own.status).toBe("completed");
    // Nor can another tenant read the output file.
    expect((await SELF.fetch(`${BASE}/external/v1/files/${own.output_file_id}/content`, { headers: bearer(b.apiKey) })).status).toBe(404);
  });

  it("lists the owner's batches newest first with cursor pagination", async () => {
    const c = await seedTenant();
    const fileId = await uploadFile("/external/v1", bearer(c.apiKey), jsonlOf([chatLine(1)]));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await (await createBatch("/external/v1", bearer(c.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as any).id);
    const page1 = (await (await SELF.fetch(`${BASE}/external/v1/batches?limit=2`, { headers: bearer(c.apiKey) })).json()) as any;
    expect(page1).toMatchObject({ object: "list", has_more: true });
    expect(page1.data.map((x: any) => x.id)).toEqual([ids[2], ids[1]]);
    expect(page1.first_id).toBe(ids[2]);
    expect(page1.last_id).toBe(ids[1]);
    const page2 = (await (await SELF.fetch(`${BASE}/external/v1/batches?limit=2&after=${page1.last_id}`, { headers: bearer(c.apiKey) })).json()) as any;
    expect(page2.data.map((x: any) => x.id)).toEqual([ids[0]]);
    expect(page2.has_more).toBe(false);
    await Promise.all(ids.map((id) => waitForBatch("/external/v1", bearer(c.apiKey), id)));
  });
});

describe("Batches: the preset's batch price", () => {
  it("a batch line pays pricing.batch where the preset sets it; an interactive request the normal price", async () => {
    const presets = mockPresets(SCENARIO).map((p) => (p.model === "mock-openai-chat" ? { ...p, pricing: { ...p.pricing, batch: { input_per_million_micros: 500_000, output_per_million_micros: 1_000_000 } } } : p));
    await seedPresets(presets);
    const t = await seedTenant();
    const fileId = await uploadFile("/external/v1", bearer(t.apiKey), jsonlOf([chatLine(1)]));
    const created = (await (await createBatch("/external/v1", bearer(t.apiKey), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as any;
    await waitForBatch("/external/v1", bearer(t.apiKey), created.id);
    const [line] = await waitFor("the line's debit", async () => ((await debitsOf(created.id)).length === 1 ? debitsOf(created.id) : undefined));
    // Batch prices: 0.5 and 1 micro-unit per token, each side rounded up (normal: 1 and 2).
    expect(BigInt(line!.amount_micros)).toBe(-BigInt(Math.ceil(line!.input_tokens / 2) + line!.output_tokens));
    const res = await SELF.fetch(`${BASE}/external/v1/chat/completions`, { method: "POST", headers: { ...bearer(t.apiKey), "content-type": "application/json" }, body: JSON.stringify(chatLine(1).body) });
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-gateway-request-id")!;
    const interactive = await waitFor("the interactive debit", () => handle.db.selectFrom("billing_transaction").selectAll().where("request_id", "=", requestId).executeTakeFirst());
    expect(interactive.batch_id).toBeNull();
    expect(BigInt(interactive.amount_micros)).toBe(-BigInt(interactive.input_tokens + 2 * interactive.output_tokens));
  });
});
