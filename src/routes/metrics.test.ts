// GET /internal/v1/metrics through the real Worker: counters that add up across many requests after a
// flush, a parseable exposition with monotone histogram buckets, upstream failures and rejections
// by kind, breaker gauges, and the service-token wall (tenant keys and missing tokens are refused).
import { createExecutionContext, createMessageBatch, env, getQueueResult, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { mockPresets, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../../test/fixtures/seed";
import { consumeDeadLetters } from "../../queues/dead-letter";
import { flushMetrics } from "../metrics/flush";
import { parseExposition, sumSamples, type ParsedFamily } from "../metrics/parse-exposition";

const SCENARIO = "metrics-route";
let tenant: SeededKey;
let service: { token: string };

const chat = (token: string, channel: "external" | "internal" = "external", model = "mock-openai-chat") =>
  SELF.fetch(`https://gw.test/${channel}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello metrics" }] }),
  });

async function scrape(token = service.token): Promise<Map<string, ParsedFamily>> {
  const res = await SELF.fetch("https://gw.test/internal/v1/metrics", { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const parsed = parseExposition(await res.text());
  if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.reason}`);
  return parsed.families;
}

/** Scrapes until `check` holds: the requests' metrics are recorded in waitUntil after their responses. */
async function scrapeUntil(check: (f: Map<string, ParsedFamily>) => boolean): Promise<Map<string, ParsedFamily>> {
  let families = await scrape();
  for (let i = 0; i < 100 && !check(families); i++) {
    await new Promise((r) => setTimeout(r, 50));
    families = await scrape();
  }
  return families;
}

const requestsFor = (f: Map<string, ParsedFamily>, labels: Record<string, string>) => sumSamples(f.get("gateway_requests_total"), labels);

beforeAll(async () => {
  await mockScenario(SCENARIO, {});
  await seedPresets(mockPresets(SCENARIO));
  tenant = await seedTenant();
  service = await seedService({ operations: true });
});

describe("GET /internal/v1/metrics", () => {
  it("counts every request: 20 requests add 20 to gateway_requests_total, and the histograms by as many", async () => {
    const before = await scrape();
    const base = requestsFor(before, { channel: "external", route: "/external/v1/chat/completions", model: "mock-openai-chat", status: "200" });
    const baseCount = sumSamples(before.get("gateway_request_duration_seconds"), { channel: "external", stream: "false" }, "gateway_request_duration_seconds_count");
    const responses = await Promise.all(Array.from({ length: 20 }, () => chat(tenant.apiKey)));
    expect(responses.map((r) => r.status)).toEqual(new Array(20).fill(200));
    await Promise.all(responses.map((r) => r.text()));
    const labels = { channel: "external", route: "/external/v1/chat/completions", model: "mock-openai-chat", status: "200", error_source: "none" };
    const after = await scrapeUntil((f) => requestsFor(f, labels) >= base + 20);
    expect(requestsFor(after, labels) - base).toBe(20);
    const duration = after.get("gateway_request_duration_seconds")!;
    expect(duration.type).toBe("histogram");
    expect(sumSamples(duration, { channel: "external", stream: "false" }, "gateway_request_duration_seconds_count") - baseCount).toBe(20);
    expect(sumSamples(after.get("gateway_upstream_requests_total"), { target: `${SCENARIO}-openai` })).toBeGreaterThanOrEqual(20);
  });

  it("renders histograms with monotone cumulative buckets ending in +Inf = _count", async () => {
    const families = await scrape();
    for (const name of ["gateway_request_duration_seconds", "gateway_overhead_seconds"]) {
      const family = families.get(name)!;
      expect(family, name).toBeDefined();
      const series = new Map<string, { le: string; value: number }[]>();
      for (const s of family.samples.filter((s) => s.name === `${name}_bucket`)) {
        const { le, ...rest } = s.labels;
        const key = JSON.stringify(rest);
        series.set(key, [...(series.get(key) ?? []), { le: le!, value: s.value }]);
      }
      expect(series.size).toBeGreaterThan(0);
      for (const [key, buckets] of series) {
        const bounds = buckets.map((b) => (b.le === "+Inf" ? Infinity : Number(b.le)));
        expect([...bounds].sort((a, b) => a - b)).toEqual(bounds);
        expect(bounds.at(-1)).toBe(Infinity);
        for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
        const count = family.samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key)!;
        expect(buckets.at(-1)!.value).toBe(count.value);
      }
    }
  });

  it("counts upstream failures by target and kind, and client errors by source", async () => {
    await mockScenario(`${SCENARIO}-fail`, { status: 500 });
    await seedPresets([...mockPresets(SCENARIO), ...mockPresets(`${SCENARIO}-fail`).map((p) => ({ ...p, model: `${p.model}-failing` }))]);
    const res = await chat(tenant.apiKey, "external", "mock-openai-chat-failing");
    expect(res.status).toBe(502);
    const unknown = await chat(tenant.apiKey, "external", "no-such-model");
    expect(unknown.status).toBe(404);
    const families = await scrapeUntil((f) => sumSamples(f.get("gateway_upstream_failures_total"), { target: `${SCENARIO}-fail-openai` }) > 0);
    const failures = families.get("gateway_upstream_failures_total")!;
    expect(sumSamples(failures, { target: `${SCENARIO}-fail-openai`, kind: "upstream_error" })).toBeGreaterThanOrEqual(1);
    expect(requestsFor(families, { model: "mock-openai-chat-failing", status: "502", error_source: "upstream" })).toBe(1);
    // The client's unknown model is not a label value: only configured models are.
    expect(failures.samples.concat(families.get("gateway_requests_total")!.samples).some((s) => s.labels.model === "no-such-model")).toBe(false);
    expect(requestsFor(families, { model: "none", status: "404", error_source: "client" })).toBeGreaterThanOrEqual(1);
    await seedPresets(mockPresets(SCENARIO));
  });

  it("exposes breaker states for the configured targets and the aggregator as a source that answered", async () => {
    const families = await scrape();
    const breakers = families.get("gateway_breaker_state")!;
    expect(breakers.type).toBe("gauge");
    expect(breakers.samples.map((s) => s.labels.target)).toContain(`${SCENARIO}-openai`);
    for (const s of breakers.samples) expect([0, 1, 2]).toContain(s.value);
    expect(sumSamples(families.get("gateway_metrics_source_up"), { source: "aggregator" })).toBe(1);
    expect(sumSamples(families.get("gateway_metrics_source_up"), { source: "breakers" })).toBe(1);
  });

  it("exports label-less counters at 0 before their first event, so increase() sees it", async () => {
    const families = await scrape();
    expect(families.get("gateway_billing_negative_balances_total")!.samples).toEqual([{ name: "gateway_billing_negative_balances_total", labels: {}, value: 0 }]);
  });

  it("counts dead-lettered messages once (first delivery) and shows the rows waiting in the database", async () => {
    const queue = "gateway-billing-dlq";
    const before = sumSamples((await scrape()).get("gateway_queue_dead_letters_total"), { queue });
    const stamp = Date.now();
    const batch = createMessageBatch(queue, [
      { id: `mx-${stamp}-1`, timestamp: new Date(), attempts: 1, body: { reason: "test", body: { n: 1 } } },
      { id: `mx-${stamp}-2`, timestamp: new Date(), attempts: 1, body: { reason: "test", body: { n: 2 } } },
      // A redelivery (the first write failed): already counted.
      { id: `mx-${stamp}-3`, timestamp: new Date(), attempts: 3, body: { reason: "test", body: { n: 3 } } },
    ]);
    const exec = createExecutionContext();
    await consumeDeadLetters(batch, env, exec);
    expect((await getQueueResult(batch, exec)).ackAll).toBe(true);
    const families = await scrapeUntil((f) => sumSamples(f.get("gateway_queue_dead_letters_total"), { queue }) >= before + 2);
    expect(sumSamples(families.get("gateway_queue_dead_letters_total"), { queue }) - before).toBe(2);
    expect(sumSamples(families.get("gateway_dead_letters_pending"), { queue })).toBeGreaterThanOrEqual(3);
    expect(sumSamples(families.get("gateway_metrics_source_up"), { source: "database" })).toBe(1);
  });

  it("the flush hook delivers this isolate's pending metrics", async () => {
    await (await chat(service.token, "internal")).text();
    expect(await flushMetrics(env)).toBe(true);
  });

  it("refuses a missing token, a tenant's API key and a revoked service token with 401/403", async () => {
    const none = await SELF.fetch("https://gw.test/internal/v1/metrics");
    expect(none.status).toBe(401);
    expect(((await none.json()) as any).error.code).toBe("missing_api_key");
    const tenantKey = await SELF.fetch("https://gw.test/internal/v1/metrics", { headers: { authorization: `Bearer ${tenant.apiKey}` } });
    expect(tenantKey.status).toBe(401);
    expect(await tenantKey.text()).not.toContain("gateway_requests_total");
    const revoked = await seedService({ status: "revoked", operations: true });
    const res = await SELF.fetch("https://gw.test/internal/v1/metrics", { headers: { authorization: `Bearer ${revoked.token}` } });
    expect(res.status).toBe(403);
  });

  it("a service token without the operations scope reads no metrics: 403 insufficient_role", async () => {
    const plain = await seedService();
    const res = await SELF.fetch("https://gw.test/internal/v1/metrics", { headers: { authorization: `Bearer ${plain.token}` } });
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe("insufficient_role");
    expect(text).not.toContain("gateway_requests_total");
  });
});
