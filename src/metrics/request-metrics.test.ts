// How one finished request becomes metric increments: status and error source, bounded route and
// model labels, upstream failures (an upstream's 4xx answer is not one), broken streams, limiter
// rejections and fail-open flags, cost, and the tenant's own minute.
import { Ending } from "../pipeline/ending";
import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GatewayContext } from "../context";
import { settingsOf } from "../env";
import { PresetItemSchema } from "../config/schemas";
import { decodeLabels } from "./parse-exposition";
import { MetricsRecorder } from "./recorder";
import { recordRequest, routeTemplate } from "./request-metrics";

const preset = PresetItemSchema.parse({ id: "t1", capability: "chat", model: "gpt-x", provider: "openai", base_url: "https://up.example/v1" });

function context(overrides: Partial<GatewayContext> = {}, path = "/external/v1/chat/completions"): GatewayContext {
  const request = new Request(`https://gw.test${path}`, { method: "POST" });
  return {
    traceId: "trace",
    requestId: "trace",
    channel: "external",
    ingress: "openai",
    capability: "chat",
    env,
    settings: settingsOf(env),
    exec: createExecutionContext(),
    request,
    rawBody: new Uint8Array(0),
    clientIp: null,
    region: null,
    receivedAt: Date.now() - 250,
    responseHeaders: new Headers(),
    flags: new Set(),
    steps: [],
    attempts: [],
    ending: new Ending(),
    ...overrides,
  };
}

function record(ctx: GatewayContext) {
  const r = new MetricsRecorder();
  recordRequest(ctx, Date.now(), r);
  const delta = r.take()!;
  const counters = delta.counters.map((c) => ({ family: c.family, labels: decodeLabels(c.labels), value: c.value }));
  return { counters, delta, of: (family: string) => counters.filter((c) => c.family === family) };
}

describe("request metrics", () => {
  it("labels a success with its route template, configured model and no error source", () => {
    const { of, delta } = record(
      context({
        status: 200,
        route: { candidates: [preset], configVersion: 1, routeKey: "gpt-x" },
        principal: { kind: "api_key", tenantId: "ten1", keyId: "k1", scopes: {} },
        billing: { costMicros: 42, priceVersion: 1, currency: "USD" },
        attempts: [{ target: "t1", status: 200, durationMs: 100 }],
        steps: [{ name: "call_upstream", status: "ok", durationMs: 100, attempts: 1 }],
      }),
    );
    expect(of("gateway_requests_total")).toEqual([
      { family: "gateway_requests_total", labels: { channel: "external", route: "/external/v1/chat/completions", model: "gpt-x", status: "200", error_source: "none" }, value: 1 },
    ]);
    expect(of("gateway_upstream_requests_total")).toMatchObject([{ labels: { target: "t1" }, value: 1 }]);
    expect(of("gateway_upstream_failures_total")).toEqual([]);
    expect(of("gateway_billing_cost_micros_total")).toMatchObject([{ labels: { tenant: "ten1" }, value: 42 }]);
    const overhead = delta.histograms.find((h) => h.family === "gateway_overhead_seconds")!;
    expect(overhead.count).toBe(1);
    expect(overhead.sum).toBeGreaterThanOrEqual(0.1);
    expect(overhead.sum).toBeLessThan(0.25);
    expect(delta.tenants).toMatchObject([{ tenant: "ten1", requests: 1, succeeded: 1, costMicros: 42, models: ["gpt-x"] }]);
  });

  it("counts upstream 5xx and timeouts as upstream failures but not an upstream's 400, nor breaker skips as calls", () => {
    const { of } = record(
      context({
        status: 504,
        error: { source: "upstream", code: "upstream_timeout" },
        attempts: [
          { target: "t0", error: "circuit_open", durationMs: 0 },
          { target: "t1", status: 500, error: "upstream_error", durationMs: 5 },
          { target: "t1", error: "upstream_timeout", durationMs: 3000 },
          { target: "t2", status: 400, error: "upstream_error", durationMs: 5 },
        ],
      }),
    );
    expect(of("gateway_upstream_requests_total").map((c) => [c.labels.target, c.value])).toEqual([["t1", 2], ["t2", 1]]);
    expect(of("gateway_upstream_failures_total").map((c) => [c.labels.target, c.labels.kind])).toEqual([
      ["t1", "upstream_error"],
      ["t1", "upstream_timeout"],
    ]);
    expect(of("gateway_requests_total")[0]!.labels).toMatchObject({ model: "none", status: "504", error_source: "upstream" });
  });

  it("counts a broken stream against its upstream, and rejections and fail-open flags by kind", () => {
    const broken = record(context({ status: 200, flags: new Set(["stream_broken", "rate_limit_fail_open"]), upstream: { target: preset, status: 200, headers: new Headers(), latencyMs: 0 } }));
    expect(broken.of("gateway_stream_broken_total")).toMatchObject([{ value: 1 }]);
    expect(broken.of("gateway_upstream_failures_total")).toMatchObject([{ labels: { target: "t1", kind: "stream_broken" } }]);
    expect(broken.of("gateway_fail_open_total")).toMatchObject([{ labels: { kind: "rate_limit" } }]);

    const limited = record(context({ status: 429, error: { source: "client", code: "rate_limit_exceeded" }, principal: { kind: "api_key", tenantId: "ten2", keyId: "k", scopes: {} } }));
    expect(limited.of("gateway_rejections_total")).toMatchObject([{ labels: { kind: "rate_limit_exceeded" } }]);
    expect(limited.delta.tenants).toMatchObject([{ tenant: "ten2", requests: 1, rejections: 1, succeeded: 0 }]);

    // An upstream's own 429 is an upstream failure, not one of our rejections.
    const upstream429 = record(context({ status: 429, error: { source: "upstream", code: "upstream_rate_limited" } }));
    expect(upstream429.of("gateway_rejections_total")).toEqual([]);
  });

  it("keeps the route label bounded", () => {
    expect(routeTemplate("https://gw.test/internal/v1/embeddings")).toBe("/internal/v1/embeddings");
    expect(routeTemplate("https://gw.test/external/v1/chat/completions/../../x?y=1")).toBe("other");
    expect(routeTemplate("https://gw.test/external/v1/random-path-123")).toBe("other");
  });

  it("keeps internal services out of the tenant minutes", () => {
    const { delta } = record(context({ channel: "internal", status: 200, principal: { kind: "service", tenantId: "svc", keyId: "svc", scopes: {} } }, "/internal/v1/chat/completions"));
    expect(delta.tenants).toEqual([]);
  });
});
