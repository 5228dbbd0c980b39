// A batch line is claimed in its BatchJob before its upstream call: a redelivered message never runs or
// bills a line twice, a message arriving while another consumer holds a live lease waits, and a line whose
// consumer died during its call (lease over) is run again once, billed once. Messages are delivered to the
// Worker's real queue handler by hand (createMessageBatch), so the same message can be delivered twice.
import { createExecutionContext, createMessageBatch, env, getQueueResult, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { createDb } from "../../src/db/client";
import { batchFor } from "../../src/batches/client";
import { newBatchId } from "../../src/batches/routes";
import { LINE_LEASE_MS, type BatchLineMessage } from "../../src/batches/types";
import { fileKey, ownerOf } from "../../src/files/store";
import { hashApiKey } from "../../src/security/api-keys";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { chatLine, jsonlOf, uploadFile } from "../fixtures/batches";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "batches-redelivery";
const handle = createDb(env);
afterAll(() => handle.dispose());
let tenant: SeededKey;

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  tenant = await seedTenant();
});

/** A one-line batch whose object is created directly, its alarm an hour away: no message is sent but the ones a test delivers. */
async function quietBatch(i: number): Promise<{ id: string; owner: string }> {
  const content = JSON.stringify(chatLine(i));
  const fileId = await uploadFile("/external/v1", { authorization: `Bearer ${tenant.apiKey}` }, `${content}\n`);
  const owner = ownerOf({ kind: "api_key", tenantId: tenant.tenantId });
  const id = newBatchId();
  await batchFor(env, owner, id).create(
    {
      id,
      owner,
      creator: { kind: "api_key", tenantId: tenant.tenantId, keyId: tenant.keyId, credentialHash: await hashApiKey(tenant.apiKey) },
      channel: "external",
      endpoint: "/v1/chat/completions",
      inputFileId: fileId,
      inputKey: fileKey(owner, fileId),
      metadata: null,
      createdAt: Math.floor(Date.now() / 1000),
      windowMs: 24 * 3600_000,
      lines: [{ lineNo: 1, offset: 0, length: new TextEncoder().encode(content).length, customId: `req-${i}` }],
    },
    Date.now() + 3600_000,
  );
  return { id, owner };
}

async function deliver(message: BatchLineMessage, attempts = 1) {
  const batch = createMessageBatch("gateway-batch", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts, body: message }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  await waitOnExecutionContext(ctx);
  return getQueueResult(batch, ctx);
}

const debits = (batchId: string) => handle.db.selectFrom("billing_transaction").selectAll().where("batch_id", "=", batchId).where("kind", "=", "debit").execute();
const upstreamCalls = async () => (await mockRequests(SCENARIO)).count;

describe("Batch lines: claim before call", () => {
  it("the same message delivered twice (a lost ack) runs and bills the line once", async () => {
    const { id, owner } = await quietBatch(1);
    const message: BatchLineMessage = { v: 1, batch_id: id, owner, from: 0, to: 1 };
    const before = await upstreamCalls();
    const first = await deliver(message);
    expect(first.explicitAcks).toHaveLength(1);
    const second = await deliver(message, 2);
    expect(second.explicitAcks).toHaveLength(1);
    expect(second.retryMessages).toHaveLength(0);
    expect((await upstreamCalls()) - before).toBe(1);
    const batch = await batchFor(env, owner, id).get();
    expect(batch?.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
    const rows = await waitFor("the line's debit", async () => ((await debits(id)).length > 0 ? debits(id) : undefined));
    // Give a second debit every chance to arrive: drain by waiting for the audit row too, then count again.
    await waitFor("the line's audit row", () => handle.db.selectFrom("audit_log").select("request_id").where("batch_id", "=", id).executeTakeFirst());
    expect(rows).toHaveLength(1);
    expect(await debits(id)).toHaveLength(1);
  });

  it("a message arriving while another consumer holds a live lease is retried later, not run", async () => {
    const { id, owner } = await quietBatch(2);
    const stub = batchFor(env, owner, id);
    const held = await stub.claim(0);
    expect(held.run).toBe(true);
    const before = await upstreamCalls();
    const result = await deliver({ v: 1, batch_id: id, owner, from: 0, to: 1 });
    expect(result.retryMessages).toHaveLength(1);
    expect(await upstreamCalls()).toBe(before);
    expect((await stub.get())?.request_counts.completed).toBe(0);
  });

  it("a line whose consumer died during its call (lease over) runs again once, billed once, under a new request id", async () => {
    const { id, owner } = await quietBatch(3);
    const stub = batchFor(env, owner, id);
    // The dead consumer's claim, its lease already over.
    const dead = await stub.claim(0, Date.now() - LINE_LEASE_MS - 1_000);
    expect(dead.run).toBe(true);
    const before = await upstreamCalls();
    const result = await deliver({ v: 1, batch_id: id, owner, from: 0, to: 1 }, 3);
    expect(result.explicitAcks).toHaveLength(1);
    expect((await upstreamCalls()) - before).toBe(1);
    const rows = await waitFor("the rerun's debit", async () => ((await debits(id)).length > 0 ? debits(id) : undefined));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.request_id).toMatch(/_0_2$/);
    // The dead attempt can no longer record a result: its generation lost the line.
    expect(await stub.complete(0, 1, { ok: true, text: "{}" })).toEqual({ accepted: false });
    expect((await stub.get())?.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
  });
});

describe("Batch lines: out of retries", () => {
  it("a line whose message reached the dead-letter queue becomes an error line (line_not_run); the batch still ends", async () => {
    const { id, owner } = await quietBatch(4);
    const batch = createMessageBatch("gateway-batch-dlq", [{ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body: { v: 1, batch_id: id, owner, from: 0, to: 1 } satisfies BatchLineMessage }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    await waitOnExecutionContext(ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toHaveLength(1);
    const stub = batchFor(env, owner, id);
    expect((await stub.get())?.request_counts).toEqual({ total: 1, completed: 0, failed: 1 });
    // The object finalizes from its alarm: run it now rather than wait for it.
    await runDurableObjectAlarm(stub);
    const done = await stub.get();
    expect(done?.status).toBe("completed");
    const file = await env.FILES_BUCKET.get(`files/${encodeURIComponent(owner)}/${done!.error_file_id}`);
    const line = JSON.parse((await file!.text()).trim());
    expect(line).toMatchObject({ custom_id: "req-4", response: null, error: { code: "line_not_run" } });
    expect(await debits(id)).toHaveLength(0);
  });
});
