// Cancel and expiry through the real Worker, queue and BatchJob: lines not yet started never run nor
// bill, lines running finish and are billed, and the batch ends cancelled or expired with the files of
// what ran. The mock upstream answers slowly so that a cancel or the expiry finds lines in every state.
import { env } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { batchFor } from "../../src/batches/client";
import { newBatchId } from "../../src/batches/routes";
import { fileKey, ownerOf } from "../../src/files/store";
import { hashApiKey } from "../../src/security/api-keys";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { BASE, chatLine, createBatch, fileLines, jsonlOf, uploadFile, waitForBatch } from "../fixtures/batches";
import { waitFor } from "../fixtures/wait";
import { SELF } from "cloudflare:test";

const SCENARIO = "batches-cancel";
const LINES = 100;
const handle = createDb(env);
afterAll(() => handle.dispose());
let tenant: SeededKey;
const auth = () => ({ authorization: `Bearer ${tenant.apiKey}` });

beforeAll(async () => {
  await mockScenario(SCENARIO, { latency_ms: 1_500 });
  await seedPresets(mockPresets(SCENARIO));
  tenant = await seedTenant();
});

const debits = (batchId: string) => handle.db.selectFrom("billing_transaction").selectAll().where("batch_id", "=", batchId).where("kind", "=", "debit").execute();
const upstreamCalls = async () => (await mockRequests(SCENARIO)).count;

async function billedExactlyTheLinesThatRan(batchId: string, completed: number): Promise<void> {
  const rows = await waitFor(`${completed} debits`, async () => ((await debits(batchId)).length >= completed ? debits(batchId) : undefined));
  expect(rows).toHaveLength(completed);
}

describe("Batches: cancel", () => {
  it("lines not yet started never run nor bill; running ones finish; cancelling, then cancelled", async () => {
    const fileId = await uploadFile("/external/v1", auth(), jsonlOf(Array.from({ length: LINES }, (_, i) => chatLine(i))));
    const before = await upstreamCalls();
    const created = (await (await createBatch("/external/v1", auth(), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as any;
    // Cancel once some lines are running.
    await waitFor("a line to reach the upstream", async () => (await upstreamCalls()) > before);
    const cancelling = (await (await SELF.fetch(`${BASE}/external/v1/batches/${created.id}/cancel`, { method: "POST", headers: auth() })).json()) as any;
    expect(["cancelling", "cancelled"]).toContain(cancelling.status);
    expect(cancelling.cancelling_at).not.toBeNull();
    const done = await waitForBatch("/external/v1", auth(), created.id);
    expect(done.status).toBe("cancelled");
    expect(done.cancelled_at).not.toBeNull();
    const ran = done.request_counts.completed + done.request_counts.failed;
    expect(ran).toBeGreaterThan(0);
    expect(ran).toBeLessThan(LINES);
    expect(done.request_counts.failed).toBe(0);
    // Exactly the lines that ran reached the upstream, and exactly those are billed.
    expect((await upstreamCalls()) - before).toBe(ran);
    expect(await fileLines("/external/v1", auth(), done.output_file_id!)).toHaveLength(done.request_counts.completed);
    await billedExactlyTheLinesThatRan(created.id, done.request_counts.completed);
    // A second cancel changes nothing.
    const again = (await (await SELF.fetch(`${BASE}/external/v1/batches/${created.id}/cancel`, { method: "POST", headers: auth() })).json()) as any;
    expect(again.status).toBe("cancelled");
  });
});

describe("Batches: expiry", () => {
  it("at the end of the completion window unstarted lines never run; running ones finish; status expired", async () => {
    const content = jsonlOf(Array.from({ length: LINES }, (_, i) => chatLine(i)));
    const fileId = await uploadFile("/external/v1", auth(), content);
    const owner = ownerOf({ kind: "api_key", tenantId: tenant.tenantId });
    const id = newBatchId();
    let offset = 0;
    const lines = content.split("\n").filter((l) => l !== "").map((l, i) => {
      const ref = { lineNo: i + 1, offset, length: l.length, customId: `req-${i}` };
      offset += l.length + 1;
      return ref;
    });
    const before = await upstreamCalls();
    // A window of one second (the route always gives 24 h): the object's alarm stops the batch at its end.
    await batchFor(env, owner, id).create({
      id, owner, channel: "external", endpoint: "/v1/chat/completions", inputFileId: fileId, inputKey: fileKey(owner, fileId), metadata: null,
      creator: { kind: "api_key", tenantId: tenant.tenantId, keyId: tenant.keyId, credentialHash: await hashApiKey(tenant.apiKey) },
      createdAt: Math.floor(Date.now() / 1000), windowMs: 1_000, lines,
    });
    const done = await waitFor("the batch to expire", async () => {
      const b = await batchFor(env, owner, id).get();
      return b && b.status === "expired" ? b : undefined;
    }, { timeoutMs: 30_000, intervalMs: 100 });
    expect(done.expired_at).not.toBeNull();
    const ran = done.request_counts.completed + done.request_counts.failed;
    expect(ran).toBeLessThan(LINES);
    expect((await upstreamCalls()) - before).toBe(ran);
    await billedExactlyTheLinesThatRan(id, done.request_counts.completed);
    if (done.request_counts.completed > 0) expect(await fileLines("/external/v1", auth(), done.output_file_id!)).toHaveLength(done.request_counts.completed);
  });
});
