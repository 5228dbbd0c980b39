// Faults of the mock provider: each one observable by a client, and the server still healthy afterwards.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../fixtures/wait";
import {
  type Json, type MockProvider, anthropic, openai, openaiChunks, parseSse, readUntil, requestLog, setScenario, startMockProvider,
} from "./test-utils";

let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider();
});
afterAll(() => mock.close());
afterEach(async () => {
  expect((await fetch(`${mock.url}/__mock/health`)).status).toBe(200);
});

const chat = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "fault test" }], ...extra });
const streamed = chat({ stream: true, stream_options: { include_usage: true } });
const at = (scenario: string) => ({ ...mock, scenario });
const contentFrames = (text: string) => parseSse(text).filter((e) => e.data.includes('"content":"') && !e.data.includes('"role"')).length;

describe("faults", () => {
  it("reset_mid_stream: the read fails after fault_after_chunks content chunks", async () => {
    await setScenario(mock.url, "reset", { fault: "reset_mid_stream", fault_after_chunks: 3 });
    const res = await openai(at("reset"), streamed);
    expect(res.status).toBe(200);
    const got = await readUntil(res);
    expect(got.error).not.toBeNull();
    expect(contentFrames(got.text)).toBe(3);
    expect(got.text).not.toContain("[DONE]");

    const plain = await openai(at("reset"), chat());
    await expect(plain.text()).rejects.toThrow();
  });

  it("oversized: delivers more than oversized_bytes, as valid JSON or well-formed SSE", async () => {
    await setScenario(mock.url, "big", { fault: "oversized", oversized_bytes: 3_000_000 });
    const res = await openai(at("big"), chat());
    expect(res.headers.get("content-length")).toBeNull();
    const text = await res.text();
    expect(text.length).toBeGreaterThan(3_000_000);
    expect(JSON.parse(text).object).toBe("chat.completion");

    const stream = await readUntil(await openai(at("big"), streamed));
    expect(stream.ended).toBe(true);
    expect(stream.bytes).toBeGreaterThan(3_000_000);
    expect(stream.text.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("endless: keeps streaming until the client goes away", async () => {
    await setScenario(mock.url, "forever", { fault: "endless" });
    const got = await readUntil(await openai(at("forever"), streamed), 2_000_000);
    expect(got.ended).toBe(false);
    expect(got.bytes).toBeGreaterThanOrEqual(2_000_000);
    expect(got.text).not.toContain("[DONE]");
  });

  it("hang: sends no headers within 300 ms", async () => {
    await setScenario(mock.url, "hang", { fault: "hang" });
    const started = Date.now();
    const outcome = await fetch(`${mock.url}/s/hang/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer mock-upstream-key" },
      body: JSON.stringify(chat()),
      signal: AbortSignal.timeout(300),
    }).then(() => "answered", (err: Error) => err.name);
    expect(outcome).toBe("TimeoutError");
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it("slow_drip: headers at once, then about one byte per drip_ms", async () => {
    await setScenario(mock.url, "drip", { fault: "slow_drip", drip_ms: 20 });
    const started = Date.now();
    const res = await openai(at("drip"), chat());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(Number(res.headers.get("content-length"))).toBeGreaterThan(1000);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let bytes = 0;
    const until = Date.now() + 300;
    while (Date.now() < until) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    await reader.cancel();
    expect(bytes).toBeGreaterThanOrEqual(3);
    expect(bytes).toBeLessThan(40);
  });

  it("malformed_sse: the stream carries data that is not JSON; a plain body is cut JSON", async () => {
    await setScenario(mock.url, "garbage", { fault: "malformed_sse" });
    const events = parseSse(await (await openai(at("garbage"), streamed)).text());
    const bad = events.filter((e) => e.data !== "[DONE]" && !isJson(e.data));
    expect(bad.length).toBeGreaterThan(0);
    expect(events.some((e) => isJson(e.data))).toBe(true);
    const plain = await (await openai(at("garbage"), chat())).text();
    expect(isJson(plain)).toBe(false);
  });

  it("idle_gap: pauses idle_gap_ms after fault_after_chunks chunks, then completes", async () => {
    await setScenario(mock.url, "gap", { fault: "idle_gap", idle_gap_ms: 400, fault_after_chunks: 2 });
    const started = Date.now();
    const got = await readUntil(await openai(at("gap"), streamed));
    expect(got.ended).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    const chunks = openaiChunks(got.text);
    expect(chunks.at(-1).usage.completion_tokens).toBe(130);
    const gaps = got.arrivals.slice(1).map((t, i) => t - got.arrivals[i]!);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(350);
  });

  it("no_usage: omits usage in plain bodies and in streams of both formats", async () => {
    await setScenario(mock.url, "nousage", { fault: "no_usage" });
    const plain: Json = await (await openai(at("nousage"), chat())).json();
    expect(plain.usage).toBeUndefined();
    const chunks = openaiChunks(await (await openai(at("nousage"), streamed)).text());
    expect(chunks.some((c) => c.usage)).toBe(false);
    const events = parseSse(await (await anthropic(at("nousage"), { model: "c", max_tokens: 50, stream: true, messages: [{ role: "user", content: "x" }] })).text());
    expect(events.some((e) => e.data.includes('"usage"'))).toBe(false);
    expect(events.at(-1)!.event).toBe("message_stop");
  });

  it("tool_call: forces a tool call even without tools", async () => {
    await setScenario(mock.url, "tool", { fault: "tool_call" });
    const body: Json = await (await openai(at("tool"), chat())).json();
    expect(body.choices[0].finish_reason).toBe("tool_calls");
    expect(body.choices[0].message.tool_calls[0].function).toEqual({ name: "lookup", arguments: '{"query":"fault test"}' });
  });

  it("chunk_delay_ms: spaces the stream's frames", async () => {
    await setScenario(mock.url, "paced", { chunk_delay_ms: 25, chunks: 4 });
    const started = Date.now();
    const got = await readUntil(await openai(at("paced"), streamed));
    expect(got.ended).toBe(true);
    // role + 4 content + finish + usage + [DONE] = 8 frames, 7 gaps
    expect(Date.now() - started).toBeGreaterThanOrEqual(7 * 25 - 10);
    expect(contentFrames(got.text)).toBe(4);
  });

  it("close() ends hanging and endless connections", async () => {
    const own = await startMockProvider();
    await setScenario(own.url, "default", { fault: "hang" });
    const pending = fetch(`${own.url}/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer mock-upstream-key" }, body: "{}" }).catch((e: Error) => e);
    // Closed only once the connection is really hanging there.
    await waitUntil("the mock to hold the request", async () => ((await requestLog(own.url, "default")) as { count: number }).count === 1);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

function isJson(s: string) {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
