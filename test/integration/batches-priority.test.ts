// Batch lines run in the batch class: they may fill at most BATCH_LIMIT_SHARE (20%) of their owner's
// limits, counting all of the owner's traffic. An interactive client of the same tenant sending 80% of its
// requests-per-minute limit meets no more 429s while a 300-line batch of that tenant runs than without it,
// and the batch still makes progress. Real Worker, queue, BatchJob and TenantGuard.
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_LIMIT_SHARE } from "../../src/backpressure/priority-classes";
import { mockPresets, mockScenario, seedPresets, seedTenant, type SeededKey } from "../fixtures/seed";
import { BASE, chatLine, createBatch, getBatch, jsonlOf, uploadFile } from "../fixtures/batches";
import { waitFor } from "../fixtures/wait";

const SCENARIO = "batches-priority";
const RPM = 50;
const INTERACTIVE = Math.floor(RPM * 0.8);
const BATCH_LINES = 300;

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
});

const limited = () => seedTenant({ tenant: { rate_limits: { requests_per_minute: RPM } } });
const auth = (t: SeededKey) => ({ authorization: `Bearer ${t.apiKey}` });

/** The interactive client: INTERACTIVE requests one after another (c=1); how many were refused with 429. */
async function interactive(t: SeededKey): Promise<number> {
  let refused = 0;
  for (let i = 0; i < INTERACTIVE; i++) {
    const res = await SELF.fetch(`${BASE}/external/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth(t), "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: `interactive ${i}` }] }),
    });
    await res.arrayBuffer();
    if (res.status === 429) refused++;
    else expect(res.status).toBe(200);
  }
  return refused;
}

describe("Batches run in the batch priority class", () => {
  it("an interactive client at 80% of its limit sees no more 429s while a batch of the same tenant runs than without it", async () => {
    const alone = await limited();
    const refusedAlone = await interactive(alone);

    const busy = await limited();
    const fileId = await uploadFile("/external/v1", auth(busy), jsonlOf(Array.from({ length: BATCH_LINES }, (_, i) => chatLine(i))));
    const created = (await (await createBatch("/external/v1", auth(busy), { input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })).json()) as { id: string };
    // The batch has taken its share of the window before the interactive client starts.
    await waitFor("the batch's first lines", async () => (await getBatch("/external/v1", auth(busy), created.id)).request_counts.completed > 0);
    const refusedWithBatch = await interactive(busy);
    const progress = await getBatch("/external/v1", auth(busy), created.id);
    await SELF.fetch(`${BASE}/external/v1/batches/${created.id}/cancel`, { method: "POST", headers: auth(busy) });

    expect(refusedWithBatch).toBeLessThanOrEqual(refusedAlone);
    expect(refusedAlone).toBe(0);
    // The batch ran meanwhile, within its share of the minute's window.
    expect(progress.request_counts.completed).toBeGreaterThan(0);
    expect(progress.request_counts.completed).toBeLessThanOrEqual(Math.floor(RPM * BATCH_LIMIT_SHARE) * 2);
    expect(progress.request_counts.failed).toBe(0);
  });
});
