// GatewayMetrics over real RPC stubs: deltas add up, a resent batch counts once, totals survive a
// restart, label cardinality stays capped, bad input is ignored, and tenant minutes are summarised
// per window and pruned once they age out.
import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { COST_TENANT_SERIES, DURATION_BUCKETS, OVERFLOW_LABEL, STORED } from "../src/metrics/families";
import { MetricsRecorder, type MetricsDelta } from "../src/metrics/recorder";
import { decodeLabels } from "../src/metrics/parse-exposition";
import { MetricsStore, TENANT_RETENTION_MINUTES } from "./gateway-metrics/store";

const objectFor = (name: string = crypto.randomUUID()) => env.GATEWAY_METRICS.get(env.GATEWAY_METRICS.idFromName(name));

function requestsDelta(n: number, status = "200"): MetricsDelta {
  const r = new MetricsRecorder();
  for (let i = 0; i < n; i++) {
    r.count(STORED.requests, { channel: "external", route: "/external/v1/chat/completions", model: "m", status, error_source: "none" });
    r.observe(STORED.duration, { channel: "external", stream: "false" }, (i % 10) / 10);
  }
  return r.take()!;
}

const counter = (snapshot: { counters: { family: string; value: number }[] }, family: string) =>
  snapshot.counters.filter((c) => c.family === family).reduce((s, c) => s + c.value, 0);

describe("merging deltas", () => {
  it("adds counters and histogram buckets from many batches", async () => {
    const stub = objectFor();
    for (const n of [3, 5, 12]) expect(await stub.merge(requestsDelta(n))).toEqual({ applied: true });
    const snapshot = await stub.snapshot();
    expect(counter(snapshot, STORED.requests.name)).toBe(20);
    const [histogram] = snapshot.histograms;
    expect(histogram!.count).toBe(20);
    expect(histogram!.buckets.reduce((a, b) => a + b, 0)).toBe(20);
    expect(histogram!.buckets).toHaveLength(DURATION_BUCKETS.length + 1);
    expect(snapshot.gauges.map((g) => g.family)).toEqual(["gateway_metrics_last_merge_timestamp_seconds"]);
  });

  it("counts a batch resent under the same id once", async () => {
    const stub = objectFor();
    const delta = requestsDelta(7);
    expect(await stub.merge(delta)).toEqual({ applied: true });
    expect(await stub.merge(delta)).toEqual({ applied: false });
    expect(counter(await stub.snapshot(), STORED.requests.name)).toBe(7);
  });

  it("keeps its totals across a restart", async () => {
    const stub = objectFor("restart");
    await stub.merge(requestsDelta(4));
    await abortAllDurableObjects();
    const again = objectFor("restart");
    await again.merge(requestsDelta(6));
    expect(counter(await again.snapshot(), STORED.requests.name)).toBe(10);
  });

  it("names the first tenants in the cost counter and folds the rest into tenant=_other, nothing lost", async () => {
    const stub = objectFor();
    const r = new MetricsRecorder();
    for (let t = 0; t < COST_TENANT_SERIES + 10; t++) r.count(STORED.cost, { tenant: `t${t}` }, 100);
    await stub.merge(r.take()!);
    // A named tenant keeps its own series after the cap is reached; a new one goes to _other.
    r.count(STORED.cost, { tenant: "t0" }, 1);
    r.count(STORED.cost, { tenant: "late" }, 5);
    await stub.merge(r.take()!);
    const cost = (await stub.snapshot()).counters.filter((c) => c.family === STORED.cost.name);
    expect(cost).toHaveLength(COST_TENANT_SERIES + 1);
    const byTenant = Object.fromEntries(cost.map((c) => [decodeLabels(c.labels).tenant, c.value]));
    expect(byTenant.t0).toBe(101);
    expect(byTenant[OVERFLOW_LABEL]).toBe(10 * 100 + 5);
    expect(cost.reduce((s, c) => s + c.value, 0)).toBe((COST_TENANT_SERIES + 10) * 100 + 6);
  });

  it("ignores unknown families, wrong bucket counts and non-positive increments", async () => {
    const stub = objectFor();
    await stub.merge({
      id: crypto.randomUUID(),
      counters: [
        { family: "not_a_metric_total", labels: "", value: 5 },
        { family: STORED.streamBroken.name, labels: "", value: -3 },
        { family: STORED.duration.name, labels: "", value: 1 },
      ],
      histograms: [{ family: STORED.duration.name, labels: 'channel="external",stream="false"', buckets: [1, 2], sum: 1, count: 3 }],
      tenants: [],
    });
    const snapshot = await stub.snapshot();
    expect(snapshot.counters).toEqual([]);
    expect(snapshot.histograms).toEqual([]);
  });
});

describe("tenant statistics", () => {
  const minuteNow = () => Math.floor(Date.now() / 60_000);

  function tenantDelta(tenant: string, minute: number, requests: number, succeeded: number): MetricsDelta {
    const r = new MetricsRecorder();
    const row = r.tenantMinute(tenant, minute);
    row.requests = requests;
    row.succeeded = succeeded;
    row.clientErrors = requests - succeeded;
    row.latency[4] = succeeded; // 0.05 s < latency <= 0.1 s
    row.models = ["m1"];
    return r.take()!;
  }

  it("summarises the last 5 and 60 minutes of one tenant only", async () => {
    const stub = objectFor();
    const now = minuteNow();
    await stub.merge(tenantDelta("a", now, 10, 9));
    await stub.merge(tenantDelta("a", now - 30, 4, 2));
    await stub.merge(tenantDelta("b", now, 100, 100));
    const stats = await stub.tenantStats("a");
    const [recent, hour] = stats.windows;
    expect(recent).toMatchObject({ minutes: 5, requests: 10, succeeded: 9, clientErrors: 1 });
    expect(recent!.successRate).toBeCloseTo(0.9);
    expect(recent!.latencyMs.p50).toBeGreaterThan(50);
    expect(recent!.latencyMs.p99).toBeLessThanOrEqual(100);
    expect(hour).toMatchObject({ minutes: 60, requests: 14, succeeded: 11 });
    expect(stats.models).toEqual(["m1"]);
    expect((await stub.tenantStats("nobody")).windows[0]).toMatchObject({ requests: 0, successRate: null, latencyMs: { p50: null } });
  });

  it("drops minutes older than the retention at merge, prunes aged rows, and keeps a cleanup alarm set", async () => {
    const stub = objectFor();
    await stub.merge(tenantDelta("a", minuteNow() - TENANT_RETENTION_MINUTES - 1, 5, 5));
    await stub.merge(tenantDelta("a", minuteNow(), 1, 1));
    const rows = await runInDurableObject(stub, (_o, state) => state.storage.sql.exec(`SELECT COUNT(*) AS n FROM tenant_minutes`).one().n);
    expect(rows).toBe(1);
    // As if the clock had moved past the retention: the alarm's prune removes the rest.
    const pruned = await runInDurableObject(stub, (_o, state) => new MetricsStore(state.storage.sql).prune(Date.now() + (TENANT_RETENTION_MINUTES + 2) * 60_000));
    expect(pruned).toBeGreaterThanOrEqual(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.tenantStats("a")).windows[1]!.requests).toBe(0);
  });
});

describe("dead letters not yet stored", () => {
  const gauges = async (stub: ReturnType<typeof objectFor>) =>
    Object.fromEntries((await stub.snapshot()).gauges.filter((g) => g.family !== "gateway_metrics_last_merge_timestamp_seconds").map((g) => [`${g.family}{${g.labels}}`, g.value]));

  it("counts them per queue with the oldest one's age, keeps the first arrival across reports, forgets the stored ones", async () => {
    const stub = objectFor();
    const now = Date.now();
    const later = now + 3_600_000;
    await stub.watchDeadLetters("gateway-billing-dlq", [
      { id: "a", since: now - 7_200_000, attempts: 3, expiresAt: later },
      { id: "b", since: now - 60_000, attempts: 1, expiresAt: later },
    ]);
    await stub.watchDeadLetters("gateway-audit-dlq", [{ id: "a", since: now - 600_000, attempts: 2, expiresAt: later }]);
    // Reported again (a requeued copy carries the same first id and arrival): still one, still as old.
    await stub.watchDeadLetters("gateway-billing-dlq", [{ id: "a", since: now - 7_200_000, attempts: 4, expiresAt: later }]);
    const before = await gauges(stub);
    expect(before['gateway_dead_letters_unstored{queue="gateway-billing-dlq"}']).toBe(2);
    expect(before['gateway_dead_letter_oldest_age_seconds{queue="gateway-billing-dlq",stage="unstored"}']).toBeGreaterThanOrEqual(7_200);
    expect(before['gateway_dead_letters_unstored{queue="gateway-audit-dlq"}']).toBe(1);
    expect(before['gateway_dead_letter_oldest_age_seconds{queue="gateway-audit-dlq",stage="unstored"}']).toBeGreaterThanOrEqual(600);

    await stub.forgetDeadLetters("gateway-billing-dlq", ["a"]);
    await stub.forgetDeadLetters("gateway-audit-dlq", ["a"]);
    const after = await gauges(stub);
    expect(after['gateway_dead_letters_unstored{queue="gateway-billing-dlq"}']).toBe(1);
    expect(after['gateway_dead_letter_oldest_age_seconds{queue="gateway-billing-dlq",stage="unstored"}']).toBeLessThan(120);
    expect(Object.keys(after).some((k) => k.includes("gateway-audit-dlq"))).toBe(false);
  });

  it("leaves out an entry not reported again before it expires, and the alarm prunes it", async () => {
    const stub = objectFor();
    const now = Date.now();
    await stub.watchDeadLetters("gateway-billing-dlq", [
      { id: "quiet", since: now - 60_000, attempts: 5, expiresAt: now - 1 },
      { id: "live", since: now - 30_000, attempts: 1, expiresAt: now + 3_600_000 },
    ]);
    expect((await gauges(stub))['gateway_dead_letters_unstored{queue="gateway-billing-dlq"}']).toBe(1);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const left = await runInDurableObject(stub, (_o, state) => state.storage.sql.exec<{ id: string }>(`SELECT id FROM dead_letter_watch`).toArray().map((r) => r.id));
    expect(left).toEqual(["live"]);
  });
});
