// Anthropic stream -> OpenAI chunks: text, thinking, tool calls, usage, errors, truncation, any byte split.
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import type { GatewayFailure } from "../errors";
import { anthropicAdapter } from "./anthropic";
import type { TokenUsage } from "./types";
import { anthropicErrorMidStream, anthropicTextStream, anthropicToolStream } from "./fixtures/anthropic";
import { everyByte, forOpenAIClient, randomCuts, runText, splitAt, sseJson, TEST_TRACE, utf8 } from "./fixtures/stream-helpers";

function streamOf(includeUsage = true) {
  const seen = { usage: [] as TokenUsage[], text: "", errors: [] as GatewayFailure[] };
  const transform = forOpenAIClient(
    anthropicAdapter.chatStream({
      requestedModel: "claude",
      includeUsage,
      onUsage: (u) => seen.usage.push(u),
      onText: (t) => (seen.text += t),
      onError: (f) => seen.errors.push(f),
    }),
  );
  return { transform, seen };
}

type Chunk = { id: string; model: string; choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }>; usage?: Record<string, unknown> };

describe("anthropic stream -> OpenAI chunks", () => {
  it("streams text with role first, finish reason, usage and [DONE]", async () => {
    const { transform, seen } = streamOf();
    const out = sseJson(await runText([utf8(anthropicTextStream())], transform));
    const chunks = out.slice(0, -1) as Chunk[];
    expect(out.at(-1)).toBe("[DONE]");
    expect(chunks.every((c) => c.model === "claude" && c.id === "msg_01XFDUDYJgAACzvnptvVoYEL")).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([{ role: "assistant", content: "" }, { content: "Grüße" }, { content: " 👋 aus 東京!" }, {}, null]);
    expect(chunks.map((c) => c.choices[0]?.finish_reason ?? null)).toEqual([null, null, null, "stop", null]);
    expect(chunks.at(-1)?.usage).toEqual({ prompt_tokens: 125, completion_tokens: 15, total_tokens: 140, prompt_tokens_details: { cached_tokens: 100 } });
    expect(seen.usage).toEqual([{ inputTokens: 125, outputTokens: 15, details: { cachedInputTokens: 100, serviceTier: "standard" } }]);
    expect(seen.text).toBe("Grüße 👋 aus 東京!");
  });

  it("gives the same output for any chunking, split mid-UTF-8 included", async () => {
    for (const fixture of [anthropicTextStream(), anthropicToolStream(), anthropicTextStream().replaceAll("\n", "\r\n")]) {
      const bytes = utf8(fixture);
      const expected = await runText([bytes], streamOf().transform);
      const createdless = (s: string) => s.replace(/"created":\d+/g, "");
      expect(createdless(await runText(everyByte(bytes), streamOf().transform))).toBe(createdless(expected));
      for (let seed = 1; seed <= 15; seed++) {
        expect(createdless(await runText(splitAt(bytes, randomCuts(bytes.length, 10, seed)), streamOf().transform))).toBe(createdless(expected));
      }
    }
  });

  it("numbers tool calls on their own and streams their arguments", async () => {
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8(anthropicToolStream())], transform)).slice(0, -1) as Chunk[];
    const toolDeltas = out.flatMap((c) => (c.choices[0]?.delta.tool_calls as unknown[]) ?? []);
    expect(toolDeltas).toEqual([
      { index: 0, id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6", type: "function", function: { name: "get_weather", arguments: "" } },
      { index: 0, function: { arguments: '{"location":' } },
      { index: 0, function: { arguments: ' "San Francisco, CA", "unit": "fahrenheit"}' } },
      { index: 1, id: "toolu_02", type: "function", function: { name: "get_time", arguments: "" } },
      { index: 1, function: { arguments: '{"tz": "America/Los_Angeles"}' } },
    ]);
    expect(out.map((c) => c.choices[0]?.delta.content).filter((t) => t)).toEqual(["Okay, let's check the weather for San Francisco, CA:"]);
    expect(out.at(-1)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(out.some((c) => c.usage)).toBe(false);
    expect(seen.usage).toEqual([{ inputTokens: 472, outputTokens: 89 }]);
    expect(seen.text).toContain("Need weather.");
    expect(seen.text).toContain('get_weather{"location": "San Francisco, CA", "unit": "fahrenheit"}');
  });

  it("turns an Anthropic error event into an OpenAI error event", async () => {
    const { transform, seen } = streamOf();
    const out = sseJson(await runText([utf8(anthropicErrorMidStream())], transform));
    expect(out.at(-1)).toEqual({ error: { message: "anthropic: Overloaded", type: "upstream_error", code: "upstream_error", param: null }, trace_id: TEST_TRACE });
    expect(out).not.toContain("[DONE]");
    expect(seen.errors.map((e) => e.kind)).toEqual(["upstream_error"]);
    expect(seen.usage).toEqual([]);
  });

  it("flags a stream cut before message_delta, and completes one that lost only message_stop", async () => {
    const full = anthropicTextStream();
    const cut = streamOf();
    const cutOut = sseJson(await runText([utf8(full.slice(0, full.indexOf("event: message_delta")))], cut.transform));
    expect(cutOut.at(-1)).toMatchObject({ error: { code: "upstream_bad_response" } });
    expect(cut.seen.errors).toHaveLength(1);

    const almost = streamOf();
    const almostOut = sseJson(await runText([utf8(full.slice(0, full.indexOf("event: message_stop")))], almost.transform));
    expect(almostOut.at(-1)).toBe("[DONE]");
    expect(almost.seen.errors).toEqual([]);
    expect(almost.seen.usage).toEqual([{ inputTokens: 125, outputTokens: 15, details: { cachedInputTokens: 100, serviceTier: "standard" } }]);
  });

  it("rejects malformed or out-of-order streams without throwing", async () => {
    for (const bad of ["event: content_block_delta\ndata: {\"type\":\"content_block_delta\"\n\n", 'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n', "data: [1,2]\n\n"]) {
      const { transform, seen } = streamOf();
      const out = sseJson(await runText([utf8(bad)], transform));
      expect(out).toEqual([expect.objectContaining({ error: expect.objectContaining({ code: "upstream_bad_response" }) })]);
      expect(seen.errors).toHaveLength(1);
    }
  });

  it("is accumulated correctly by the official OpenAI client", async () => {
    const client = new OpenAI({
      apiKey: "unused",
      baseURL: "https://gateway.test/v1",
      maxRetries: 0,
      fetch: async () => new Response(new Response(anthropicToolStream()).body!.pipeThrough(streamOf().transform), { headers: { "content-type": "text/event-stream" } }),
    });
    const stream = client.chat.completions.stream({ model: "claude", messages: [{ role: "user", content: "weather?" }], stream_options: { include_usage: true } });
    const done = await stream.finalChatCompletion();
    const message = done.choices[0]?.message;
    expect(message?.content).toBe("Okay, let's check the weather for San Francisco, CA:");
    expect(message?.tool_calls?.map((t) => (t.type === "function" ? [t.function.name, JSON.parse(t.function.arguments)] : null))).toEqual([
      ["get_weather", { location: "San Francisco, CA", unit: "fahrenheit" }],
      ["get_time", { tz: "America/Los_Angeles" }],
    ]);
    expect(done.choices[0]?.finish_reason).toBe("tool_calls");
    expect(done.usage?.prompt_tokens).toBe(472);
  });

  it("counts the web searches message_delta reports (message_start has none yet), and its input parts when it carries input", async () => {
    const searched = anthropicTextStream().replace('"usage":{"output_tokens":15}', '"usage":{"output_tokens":15,"server_tool_use":{"web_search_requests":3}}');
    const { transform, seen } = streamOf();
    await runText([utf8(searched)], transform);
    expect(seen.usage).toEqual([{ inputTokens: 125, outputTokens: 15, details: { cachedInputTokens: 100, serviceTier: "standard", webSearchCalls: 3 } }]);
    // A newer API version repeats the input counts in message_delta, cumulative: they replace message_start's.
    const cumulative = anthropicTextStream().replace(
      '"usage":{"output_tokens":15}',
      '"usage":{"input_tokens":30,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":15,"server_tool_use":{"web_search_requests":1}}',
    );
    const again = streamOf();
    await runText([utf8(cumulative)], again.transform);
    expect(again.seen.usage).toEqual([{ inputTokens: 135, outputTokens: 15, details: { cachedInputTokens: 100, cacheWriteInputTokens: 5, serviceTier: "standard", webSearchCalls: 1 } }]);
  });
});
