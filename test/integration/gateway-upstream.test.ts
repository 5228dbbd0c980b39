// The upstream path through the real Worker: retries before the first byte, fallbacks, upstream
// errors and attribution, broken streams (an SSE error event, never a clean end), sanitizing.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { PresetItem } from "../../src/config/schemas";
import { mockPresets, mockRequests, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

let tenant: SeededKey;
let service: { token: string };

function chat(channel: "external" | "internal", extra: Record<string, unknown> = {}) {
  const token = channel === "external" ? tenant.apiKey : service.token;
  return SELF.fetch(`https://gw.test/${channel}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "upstream test" }], ...extra }),
  });
}

/** Points mock-openai-chat at one scenario per test, optionally with a fallback candidate behind it. */
async function route(primary: string, fallback?: string) {
  await mockScenario(primary, {});
  const items: PresetItem[] = mockPresets(primary);
  if (fallback) {
    const second = mockPresets(fallback).find((p) => p.model === "mock-openai-chat")!;
    items.push({ ...second, priority: 1 });
  }
  await seedPresets(items);
}

beforeAll(async () => {
  tenant = await seedTenant();
  service = await seedService();
});

describe("retries and fallbacks before the first byte", () => {
  it("503, 503, 200: three upstream calls, one answer", async () => {
    await route("up-flaky");
    await mockScenario("up-flaky", { status: 503, fail_times: 2 });
    const res = await chat("internal");
    expect(res.status).toBe(200);
    expect((await mockRequests("up-flaky")).count).toBe(3);
  });

  it("honours Retry-After between attempts", async () => {
    await route("up-retry-after");
    await mockScenario("up-retry-after", { status: 429, retry_after: 1, fail_times: 1 });
    const started = Date.now();
    const res = await chat("internal");
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("an upstream that keeps failing ends in 502 attributed to the upstream", async () => {
    await route("up-down");
    await mockScenario("up-down", { status: 500 });
    const res = await chat("external");
    expect(res.status).toBe(502);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("upstream_error");
    expect(body.error.type).toBe("upstream_error");
    expect((await mockRequests("up-down")).count).toBe(3);
  });

  it("a client error from the upstream (400) is not retried and keeps its status", async () => {
    await route("up-400");
    await mockScenario("up-400", { status: 400, error_message: "bad parameter foo" });
    const res = await chat("internal");
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.message).toContain("bad parameter foo");
    expect((await mockRequests("up-400")).count).toBe(1);
  });

  it("falls back to the next candidate when the first keeps failing", async () => {
    await route("up-primary", "up-secondary");
    await mockScenario("up-primary", { status: 503 });
    await mockScenario("up-secondary", {});
    const res = await chat("internal");
    expect(res.status).toBe(200);
    expect((await mockRequests("up-primary")).count).toBe(3);
    expect((await mockRequests("up-secondary")).count).toBe(1);
  });
});

describe("broken streams", () => {
  it("a reset mid-stream ends with an SSE error event, never a clean [DONE]", async () => {
    await route("up-reset");
    await mockScenario("up-reset", { fault: "reset_mid_stream", fault_after_chunks: 2, chunks: 6 });
    const res = await chat("internal", { stream: true });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.some((e) => e.data === "[DONE]")).toBe(false);
    const last = JSON.parse(events.at(-1)!.data);
    expect(last.error.code).toBe("upstream_error");
    expect(last.trace_id).toBe(res.headers.get("x-trace-id"));
  });

  it("an upstream idle longer than the idle timeout is cut with an error event", async () => {
    await route("up-idle");
    await mockScenario("up-idle", { fault: "idle_gap", idle_gap_ms: 60_000, fault_after_chunks: 1 });
    const res = await chat("internal", { stream: true });
    const events = await readSse(res);
    expect(JSON.parse(events.at(-1)!.data).error.code).toBe("upstream_timeout");
  });

  it("an oversized upstream stream is cut at the size limit with an error event", async () => {
    await route("up-huge");
    await mockScenario("up-huge", { fault: "oversized", oversized_bytes: 3_000_000 });
    const res = await chat("internal", { stream: true });
    const text = await res.text();
    expect(text.length).toBeLessThan(2_200_000);
    expect(text).toContain("upstream_response_too_large");
  });

  it("an oversized non-streamed body is a 502", async () => {
    await route("up-huge-json");
    await mockScenario("up-huge-json", { fault: "oversized", oversized_bytes: 3_000_000 });
    const res = await chat("internal");
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.code).toBe("upstream_response_too_large");
  });
});

describe("sanitizing", () => {
  it("the external channel drops provider headers and fields the internal channel keeps", async () => {
    await route("up-sanitize");
    const internal = await chat("internal");
    const external = await chat("external");
    const internalBody = (await internal.json()) as any;
    const externalBody = (await external.json()) as any;
    expect(internal.headers.get("x-upstream-request-id")).not.toBeNull();
    expect(external.headers.get("x-upstream-request-id")).toBeNull();
    expect(internalBody.system_fingerprint).toBeDefined();
    expect(externalBody.system_fingerprint).toBeUndefined();
  });
});
