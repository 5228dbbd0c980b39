// The mock provider reports the usage parts providers bill apart (cached, cache-write, audio and reasoning
// tokens, web searches) and the service tier, so the gateway's usage parsing and pricing can be tested.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, type MockProvider, anthropic, openai, openaiChunks, parseSse, setScenario, startMockProvider } from "./test-utils";

let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider();
});
afterAll(() => mock.close());

const chat = (extra: Record<string, unknown> = {}) => ({ model: "gpt-4o", messages: [{ role: "user", content: "one two three" }], ...extra });
const DETAILS = { cached_tokens: 3, cache_creation_tokens: 2, audio_prompt_tokens: 5, reasoning_tokens: 40, audio_completion_tokens: 7, web_search_requests: 2 };

describe("usage_details and service_tier", () => {
  it("OpenAI: reasoning and audio tokens are added to the counts, cached tokens are part of the prompt", async () => {
    await setScenario(mock.url, "details", { usage_details: DETAILS, completion_tokens: 10 });
    const body: Json = await (await openai({ ...mock, scenario: "details" }, chat())).json();
    // prompt: 4 + 3 words, plus 5 audio; completion: 10 words + 40 reasoning + 7 audio
    expect(body.usage).toEqual({
      prompt_tokens: 12, completion_tokens: 57, total_tokens: 69,
      prompt_tokens_details: { cached_tokens: 3, audio_tokens: 5 },
      completion_tokens_details: { reasoning_tokens: 40, audio_tokens: 7, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
    expect(body.service_tier).toBe("default");
    const streamed = openaiChunks(await (await openai({ ...mock, scenario: "details" }, chat({ stream: true, stream_options: { include_usage: true } }))).text());
    expect(streamed.at(-1).usage).toEqual(body.usage);
  });

  it("OpenAI: the tier asked for is the tier reported (priority, flex), unless the setting says otherwise", async () => {
    await setScenario(mock.url, "tiers", {});
    for (const tier of ["priority", "flex"]) {
      expect(((await (await openai({ ...mock, scenario: "tiers" }, chat({ service_tier: tier }))).json()) as Json).service_tier).toBe(tier);
    }
    expect(((await (await openai({ ...mock, scenario: "tiers" }, chat({ service_tier: "auto" }))).json()) as Json).service_tier).toBe("default");
    await setScenario(mock.url, "tiers", { service_tier: "priority" });
    const chunks = openaiChunks(await (await openai({ ...mock, scenario: "tiers" }, chat({ stream: true }))).text());
    expect(chunks.every((c) => c.service_tier === "priority")).toBe(true);
  });

  it("Anthropic: cache reads and writes apart from input_tokens, web searches in server_tool_use, the tier in usage", async () => {
    await setScenario(mock.url, "a-details", { usage_details: DETAILS, completion_tokens: 10, service_tier: "priority" });
    const body: Json = await (await anthropic({ ...mock, scenario: "a-details" }, { model: "claude-x", max_tokens: 100, messages: [{ role: "user", content: "one two three" }] })).json();
    expect(body.usage).toEqual({
      input_tokens: 9, cache_creation_input_tokens: 2, cache_read_input_tokens: 3, output_tokens: 57, service_tier: "priority",
      server_tool_use: { web_search_requests: 2 },
    });
    const events = parseSse(await (await anthropic({ ...mock, scenario: "a-details" }, { model: "claude-x", max_tokens: 100, stream: true, messages: [{ role: "user", content: "one two three" }] })).text());
    const start = JSON.parse(events[0]!.data).message.usage;
    expect(start).toMatchObject({ cache_read_input_tokens: 3, service_tier: "priority" });
    // As the real API streams them: the searches are counted in message_delta, not message_start.
    expect(start.server_tool_use).toBeUndefined();
    const delta = JSON.parse(events.find((e) => e.event === "message_delta")!.data);
    expect(delta.usage).toEqual({ output_tokens: 57, server_tool_use: { web_search_requests: 2 } });
  });

  it("refuses unknown usage parts and bad counts", async () => {
    for (const settings of [{ usage_details: { cached: 1 } }, { usage_details: { cached_tokens: -1 } }, { usage_details: [] }, { service_tier: 5 }]) {
      const res = await fetch(`${mock.url}/__mock/scenarios/bad`, { method: "PUT", body: JSON.stringify(settings) });
      expect(res.status, JSON.stringify(settings)).toBe(400);
    }
  });
});
