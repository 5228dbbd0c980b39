// Concurrency caps on the internal channel, through the real Worker: a service token's slots are counted
// by its own TenantGuard in the same admit() call as its rate limits, and freed when its requests end.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockScenario } from "../fixtures/seed";
import { waitFor } from "../fixtures/wait";
import { admin } from "./admin-helpers";

const SCENARIO = "backpressure-services";

function internalChat(token: string) {
  return SELF.fetch("https://gw.test/internal/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 16 }),
  });
}

beforeAll(async () => {
  // Each answer takes 1.5 s, so two requests sent together are in flight together.
  await mockScenario(SCENARIO, { latency_ms: 1_500 });
  expect((await admin("PUT", "/presets", { items: mockPresets(SCENARIO) })).status).toBe(200);
});

describe("a service with max_concurrent_requests 1", () => {
  it("runs one request at a time: the second of two concurrent ones gets 429 concurrency_limit_exceeded, and the slot comes back", async () => {
    const { body: service } = await admin("POST", "/services", { name: "capped", max_concurrent_requests: 1, priority_class: "best_effort_internal" });
    expect(service).toMatchObject({ max_concurrent_requests: 1, priority_class: "best_effort_internal" });
    const [a, b] = await Promise.all([internalChat(service.token), internalChat(service.token)]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 429]);
    const refused = a.status === 429 ? a : b;
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("concurrency_limit_exceeded");
    expect(refused.headers.get("x-ratelimit-limit-concurrency")).toBe("1");
    expect(refused.headers.get("retry-after")).toBe("1");
    await (a.status === 200 ? a : b).text();
    // The settle that ends the first request frees its slot (completion work runs after the response).
    await waitFor("the service's slot to come back", async () => (await internalChat(service.token)).status === 200, { timeoutMs: 30_000, intervalMs: 200 });
  });
});
