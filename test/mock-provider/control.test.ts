// Auth, scenarios and the control API of the mock provider: isolation, fail_times, retry_after, request log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json, type MockProvider, anthropic, azure, openai, requestLog, setScenario, startMockProvider,
} from "./test-utils";

let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider();
});
afterAll(() => mock.close());

const chat = (content = "hello") => ({ model: "gpt-4o-mini", messages: [{ role: "user", content }] });
const claude = { model: "claude-x", max_tokens: 64, messages: [{ role: "user", content: "hello" }] };

describe("auth", () => {
  it("answers OpenAI 401s for a missing or wrong bearer key", async () => {
    const missing = await openai(mock, chat(), undefined, { authorization: "" });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as Json).error).toMatchObject({ type: "invalid_request_error", code: null, param: null });
    const wrong = await openai(mock, chat(), undefined, { authorization: "Bearer sk-wrong-key-123456" });
    expect(wrong.status).toBe(401);
    const body: Json = await wrong.json();
    expect(body.error.code).toBe("invalid_api_key");
    expect(body.error.message).not.toContain("sk-wrong-key-123456");
  });

  it("answers Anthropic 401 without x-api-key and 400 without anthropic-version", async () => {
    const noKey = await anthropic(mock, claude, { "x-api-key": "" });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ type: "error", error: { type: "authentication_error", message: "x-api-key header is required" } });
    expect((await anthropic(mock, claude, { "x-api-key": "nope" })).status).toBe(401);
    const noVersion = await anthropic(mock, claude, { "anthropic-version": "" });
    expect(noVersion.status).toBe(400);
    expect(((await noVersion.json()) as Json).error.type).toBe("invalid_request_error");
  });

  it("wants Azure's api-key header, not a bearer token", async () => {
    const res = await fetch(`${mock.url}/openai/deployments/d/chat/completions?api-version=2024-10-21`, {
      method: "POST",
      headers: { authorization: "Bearer mock-upstream-key" },
      body: JSON.stringify(chat()),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as Json).error.code).toBe("401");
  });

  it("uses the configured key", async () => {
    const other = await startMockProvider({ apiKey: "k-2" });
    try {
      expect((await openai(other, chat())).status).toBe(401);
      expect((await openai(other, chat(), undefined, { authorization: "Bearer k-2" })).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe("scenarios", () => {
  it("keeps settings and logs apart between scenarios and the default", async () => {
    await setScenario(mock.url, "iso-a", { status: 500 });
    await setScenario(mock.url, "iso-b", { completion_tokens: 3 });
    expect((await openai({ ...mock, scenario: "iso-a" }, chat())).status).toBe(500);
    const b: Json = await (await openai({ ...mock, scenario: "iso-b" }, chat())).json();
    expect(b.choices[0].message.content).toBe("Mock reply to:");
    const d: Json = await (await openai(mock, chat())).json();
    expect(d.usage.completion_tokens).toBe(130);
    expect((await requestLog(mock.url, "iso-a")).count).toBe(1);
    expect((await requestLog(mock.url, "iso-b")).count).toBe(1);
  });

  it("fails only the first fail_times requests: 503, 503, 200", async () => {
    await setScenario(mock.url, "flaky", { status: 503, fail_times: 2 });
    const t = { ...mock, scenario: "flaky" };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await openai(t, chat())).status);
    expect(statuses).toEqual([503, 503, 200]);
    // PUT again re-arms the counter
    await setScenario(mock.url, "flaky", { status: 503, fail_times: 1 });
    expect((await openai(t, chat())).status).toBe(503);
    expect((await openai(t, chat())).status).toBe(200);
  });

  it("sends status with retry-after in each provider's error shape", async () => {
    await setScenario(mock.url, "limited", { status: 429, retry_after: 7, error_message: "slow down" });
    const t = { ...mock, scenario: "limited" };
    const oa = await openai(t, chat());
    expect(oa.status).toBe(429);
    expect(oa.headers.get("retry-after")).toBe("7");
    expect(await oa.json()).toEqual({ error: { message: "slow down", type: "requests", param: null, code: "rate_limit_exceeded" } });
    const an = await anthropic(t, claude);
    expect(an.status).toBe(429);
    expect(an.headers.get("retry-after")).toBe("7");
    expect(await an.json()).toEqual({ type: "error", error: { type: "rate_limit_error", message: "slow down" } });
    const az = await azure(t, "dep", "chat/completions", chat());
    expect(az.status).toBe(429);
    expect(((await az.json()) as Json).error).toEqual({ code: "429", message: "slow down" });
  });

  it("waits latency_ms before answering", async () => {
    await setScenario(mock.url, "slow", { latency_ms: 200 });
    const started = Date.now();
    expect((await openai({ ...mock, scenario: "slow" }, chat())).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it("refuses unknown settings and bad values", async () => {
    const typo = await fetch(`${mock.url}/__mock/scenarios/x`, { method: "PUT", body: JSON.stringify({ latency: 5 }) });
    expect(typo.status).toBe(400);
    const badFault = await fetch(`${mock.url}/__mock/scenarios/x`, { method: "PUT", body: JSON.stringify({ fault: "explode" }) });
    expect(badFault.status).toBe(400);
    const health: Json = await (await fetch(`${mock.url}/__mock/health`)).json();
    expect(health.ok).toBe(true);
  });
});

describe("request log and determinism", () => {
  it("records method, path, query, headers and the parsed body; DELETE resets it", async () => {
    const t = { ...mock, scenario: "logged" };
    await openai(t, chat("first"), undefined, { "x-trace": "abc-123" });
    await azure(t, "dep-1", "embeddings", { input: "x" });
    const log: Json = await requestLog(mock.url, "logged");
    expect(log.count).toBe(2);
    const [first, second] = log.requests;
    expect(first).toMatchObject({ method: "POST", path: "/s/logged/v1/chat/completions", query: {}, body: chat("first") });
    expect(first.headers).toMatchObject({ "x-trace": "abc-123", authorization: "Bearer mock-upstream-key", "content-type": "application/json" });
    expect(second).toMatchObject({ path: "/s/logged/openai/deployments/dep-1/embeddings", query: { "api-version": "2024-10-21" } });
    expect(second.headers["api-key"]).toBe("mock-upstream-key");

    await setScenario(mock.url, "logged", { status: 500 });
    expect((await fetch(`${mock.url}/__mock/scenarios/logged`, { method: "DELETE" })).status).toBe(200);
    expect((await requestLog(mock.url, "logged")).count).toBe(0);
    expect((await openai(t, chat())).status).toBe(200);
  });

  it("keeps the last 50 requests and the total count", async () => {
    const t = { ...mock, scenario: "many" };
    for (let i = 0; i < 55; i++) await openai(t, chat(`n${i}`));
    const log: Json = await requestLog(mock.url, "many");
    expect(log.count).toBe(55);
    expect(log.requests).toHaveLength(50);
    expect(log.requests[0].body.messages[0].content).toBe("n5");
    expect(log.requests[49].body.messages[0].content).toBe("n54");
  });

  it("gives the same content and usage for the same request, with distinct ids", async () => {
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "determinism check" }], stream: true, stream_options: { include_usage: true } };
    const one = await (await openai(mock, body)).text();
    const two = await (await openai(mock, body)).text();
    const strip = (s: string) => s.replace(/chatcmpl-[\w-]+/g, "ID");
    expect(strip(one)).toBe(strip(two));
    expect(one).not.toBe(two);
    const a: Json = await (await anthropic(mock, claude)).json();
    const b: Json = await (await anthropic(mock, claude)).json();
    expect(a.content).toEqual(b.content);
    expect(a.usage).toEqual(b.usage);
    expect(a.id).not.toBe(b.id);
  });

  it("answers 404 in OpenAI's shape for unknown paths", async () => {
    const res = await fetch(`${mock.url}/v1/nope`, { headers: { authorization: "Bearer mock-upstream-key" } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as Json).error.message).toBe("Invalid URL (GET /v1/nope)");
  });
});
