// Streams through the real Worker against the mock's OpenAI, Azure and Anthropic streams: the external
// channel removes the provider's deployment fields from every event (the same list as non-streamed
// answers), the internal channel keeps them, and an error event a broken stream ends with carries the
// request's trace id, in either client format.
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { SANITIZED_BODY_FIELDS } from "../../src/security/response-fields";
import { mockPresets, mockScenario, seedPresets, seedService, seedTenant, type SeededKey } from "../fixtures/seed";
import { readSse } from "../fixtures/sse";

let tenant: SeededKey;
let service: { token: string };

function call(channel: "external" | "internal", path: string, body: Record<string, unknown>) {
  const token = channel === "external" ? tenant.apiKey : service.token;
  return SELF.fetch(`https://gw.test/${channel}/v1/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

const chat = (channel: "external" | "internal", model: string) =>
  call(channel, "chat/completions", { model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "stream sanitize" }] });

/** The text of an OpenAI-format stream, and the sanitized fields found anywhere in it. */
async function openAIStream(res: Response) {
  expect(res.status).toBe(200);
  const events = await readSse(res);
  expect(events.at(-1)?.data).toBe("[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
  const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
  const fields = SANITIZED_BODY_FIELDS.filter((f) => events.some((e) => e.data.includes(`"${f}"`)));
  return { chunks, text, fields };
}

beforeAll(async () => {
  tenant = await seedTenant();
  service = await seedService();
  await mockScenario("stream-sanitize", { chunks: 6 });
  // Each broken stream counts against its target's circuit breaker: the two tests below use their own targets.
  await mockScenario("stream-broken", { fault: "malformed_sse", chunks: 6 });
  await mockScenario("stream-broken-2", { fault: "malformed_sse", chunks: 6 });
  const broken = (scenario: string, prefix: string) => mockPresets(scenario).map((p) => ({ ...p, model: `${prefix}-${p.model}` }));
  await seedPresets([...mockPresets("stream-sanitize"), ...broken("stream-broken", "broken"), ...broken("stream-broken-2", "broken2")]);
});

describe("stream sanitizing", () => {
  it("an Azure stream loses system_fingerprint, service_tier and the filter results on the external channel only", async () => {
    const internal = await openAIStream(await chat("internal", "mock-azure-chat"));
    const external = await openAIStream(await chat("external", "mock-azure-chat"));
    expect(internal.fields).toEqual(["system_fingerprint", "service_tier", "prompt_filter_results", "content_filter_results"]);
    expect(external.fields).toEqual([]);
    expect(external.text).toBe(internal.text);
    expect(external.text.length).toBeGreaterThan(0);
    expect(external.chunks.every((c) => c.model === "mock-azure-chat")).toBe(true);
    expect(external.chunks.at(-1).usage.completion_tokens).toBeGreaterThan(0);
  });

  it("an OpenAI stream loses system_fingerprint and service_tier on the external channel", async () => {
    const internal = await openAIStream(await chat("internal", "mock-openai-chat"));
    const external = await openAIStream(await chat("external", "mock-openai-chat"));
    expect(internal.fields).toEqual(["system_fingerprint", "service_tier"]);
    expect(external.fields).toEqual([]);
    expect(external.text).toBe(internal.text);
  });

  it("an Anthropic upstream's stream carries none of them, translated for OpenAI or Anthropic clients", async () => {
    const openai = await openAIStream(await chat("external", "mock-anthropic-chat"));
    expect(openai.fields).toEqual([]);
    expect(openai.text.length).toBeGreaterThan(0);
    const res = await call("external", "messages", { model: "mock-azure-chat", max_tokens: 256, stream: true, messages: [{ role: "user", content: "stream sanitize" }] });
    const events = await readSse(res);
    expect(events.at(-1)?.event).toBe("message_stop");
    expect(SANITIZED_BODY_FIELDS.filter((f) => events.some((e) => e.data.includes(`"${f}"`)))).toEqual([]);
  });
});

describe("stream error events carry the trace id", () => {
  it("a malformed upstream stream ends with an OpenAI error event naming the request's trace", async () => {
    for (const model of ["broken-mock-openai-chat", "broken-mock-azure-chat", "broken-mock-anthropic-chat"]) {
      const res = await chat("external", model);
      if (res.status !== 200) throw new Error(`${model}: ${res.status} ${await res.text()}`);
      const events = await readSse(res);
      expect(events.some((e) => e.data === "[DONE]")).toBe(false);
      const last = JSON.parse(events.at(-1)!.data);
      expect(last.error.code).toBe("upstream_bad_response");
      expect(last.trace_id).toBe(res.headers.get("x-trace-id"));
    }
  });

  it("an Anthropic client gets an error event with the trace id too", async () => {
    const res = await call("external", "messages", { model: "broken2-mock-openai-chat", max_tokens: 256, stream: true, messages: [{ role: "user", content: "broken" }] });
    if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
    const events = await readSse(res);
    const last = events.at(-1)!;
    expect(last.event).toBe("error");
    expect(JSON.parse(last.data)).toMatchObject({ type: "error", error: { type: "api_error" }, trace_id: res.headers.get("x-trace-id") });
  });
});
