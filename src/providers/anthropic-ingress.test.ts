// Anthropic client format: request/response/stream conversion and anthropic -> openai -> anthropic round trips.
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { ChatCompletionRequestSchema } from "../api/openai-schemas";
import type { GatewayFailure } from "../errors";
import { anthropicAdapter } from "./anthropic";
import { AnthropicMessagesRequestSchema, anthropicRequestToOpenAI, openAIResponseToAnthropic, openAIStreamToAnthropic } from "./anthropic-ingress";
import { openaiAdapter } from "./openai";
import type { OpenAIChatCompletion } from "./types";
import { valueOf } from "./fixtures/result";
import { ANTHROPIC_MESSAGE, anthropicErrorMidStream, anthropicTextStream, anthropicToolStream } from "./fixtures/anthropic";
import { azureAdapter } from "./azure";
import { azureTextStream, OPENAI_COMPLETION, openAITextStream, openAIToolStream, preset } from "./fixtures/openai";
import { everyByte, forAnthropicClient, forOpenAIClient, runText, sseEvents, TEST_TRACE, utf8 } from "./fixtures/stream-helpers";

const REQUEST = {
  model: "claude",
  max_tokens: 1024,
  system: [{ type: "text", text: "You are a weather bot." }, { type: "text", text: "Answer in French.", cache_control: { type: "ephemeral" } }],
  messages: [
    { role: "user", content: "Weather in Paris?" },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Use the tool.", signature: "sig" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "toolu_1", name: "get_weather", input: { location: "Paris" } },
      ],
    },
    {
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "18°C" }] },
        { type: "text", text: "And this photo?" },
        { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
        { type: "image", source: { type: "url", url: "https://example.com/a.png" } },
      ],
    },
  ],
  tools: [{ name: "get_weather", description: "Weather", input_schema: { type: "object", properties: { location: { type: "string" } } } }],
  tool_choice: { type: "any", disable_parallel_tool_use: true },
  stop_sequences: ["\n\nHuman:"],
  temperature: 0.3,
  metadata: { user_id: "user-42" },
  stream: true,
};

describe("AnthropicMessagesRequestSchema", () => {
  it("accepts a realistic request and refuses what the gateway cannot carry", () => {
    expect(AnthropicMessagesRequestSchema.safeParse(REQUEST).success).toBe(true);
    const bad = [
      { ...REQUEST, max_tokens: undefined },
      { ...REQUEST, messages: [] },
      { ...REQUEST, messages: [{ role: "system", content: "x" }] },
      { ...REQUEST, messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBER" } }] }] },
      { ...REQUEST, tools: [{ type: "web_search_20250305", name: "web_search" }] },
      { ...REQUEST, temperature: 1.5 },
    ];
    for (const body of bad) expect(AnthropicMessagesRequestSchema.safeParse(body).success).toBe(false);
  });
});

describe("anthropicRequestToOpenAI", () => {
  const req = AnthropicMessagesRequestSchema.parse(REQUEST);

  it("maps system, turns, tool use and results, images and options", () => {
    expect(anthropicRequestToOpenAI(req)).toEqual({
      model: "claude",
      max_completion_tokens: 1024,
      messages: [
        { role: "system", content: "You are a weather bot." },
        { role: "system", content: "Answer in French." },
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: "Checking.", tool_calls: [{ id: "toolu_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } }] },
        { role: "tool", tool_call_id: "toolu_1", content: "18°C" },
        {
          role: "user",
          content: [
            { type: "text", text: "And this photo?" },
            { type: "image_url", image_url: { url: "data:image/jpeg;base64,/9j/4AAQ" } },
            { type: "image_url", image_url: { url: "https://example.com/a.png" } },
          ],
        },
      ],
      tools: [{ type: "function", function: { name: "get_weather", description: "Weather", parameters: REQUEST.tools[0]!.input_schema } }],
      tool_choice: "required",
      parallel_tool_calls: false,
      stop: ["\n\nHuman:"],
      temperature: 0.3,
      user: "user-42",
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("produces a request the OpenAI schema accepts", () => {
    expect(ChatCompletionRequestSchema.safeParse(anthropicRequestToOpenAI(req)).success).toBe(true);
  });

  it("maps tool_choice variants and error results", () => {
    const convert = (extra: object) => anthropicRequestToOpenAI(AnthropicMessagesRequestSchema.parse({ ...REQUEST, stream: false, ...extra }));
    expect(convert({ tool_choice: { type: "auto" } })).toMatchObject({ tool_choice: "auto" });
    expect(convert({ tool_choice: { type: "tool", name: "get_weather" } })).toMatchObject({ tool_choice: { type: "function", function: { name: "get_weather" } } });
    expect(convert({ tool_choice: { type: "none" } })).toMatchObject({ tool_choice: "none" });
    expect(convert({})).not.toHaveProperty("stream");
    const errored = convert({ messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "timeout", is_error: true }] }] });
    expect(errored.messages.at(-1)).toEqual({ role: "tool", tool_call_id: "t", content: "Error: timeout" });
  });
});

describe("openAIResponseToAnthropic", () => {
  it("maps tool calls, stop reason and cached usage", () => {
    expect(openAIResponseToAnthropic(OPENAI_COMPLETION as unknown as OpenAIChatCompletion, "claude")).toEqual({
      id: "msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
      type: "message",
      role: "assistant",
      model: "claude",
      content: [{ type: "tool_use", id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", name: "get_weather", input: { location: "Paris, France" } }],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 18, output_tokens: 17, cache_read_input_tokens: 64 },
    });
  });

  it("maps finish reasons and refusals", () => {
    const completion = (message: object, finish_reason: string) =>
      ({ id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason }] }) as unknown as OpenAIChatCompletion;
    expect(openAIResponseToAnthropic(completion({ content: "cut" }, "length"), "m")).toMatchObject({ stop_reason: "max_tokens", content: [{ type: "text", text: "cut" }] });
    expect(openAIResponseToAnthropic(completion({ content: "hi" }, "stop"), "m")).toMatchObject({ stop_reason: "end_turn", usage: { input_tokens: 0, output_tokens: 0 } });
    expect(openAIResponseToAnthropic(completion({ content: null, refusal: "I can't help with that." }, "stop"), "m")).toMatchObject({
      stop_reason: "refusal",
      content: [{ type: "text", text: "I can't help with that." }],
    });
  });
});

/** Runs upstream OpenAI-format SSE through the OpenAI adapter and the Anthropic ingress, as the gateway does. */
function viaOpenAI(upstream: string, chunks?: Uint8Array[]) {
  const errors: GatewayFailure[] = [];
  const onError = (f: GatewayFailure) => errors.push(f);
  const adapter = openaiAdapter.chatStream({ requestedModel: "claude", includeUsage: true, onUsage() {}, onText() {}, onError });
  const out = new Response(upstream).body!.pipeThrough(forAnthropicClient(adapter, openAIStreamToAnthropic({ requestedModel: "claude", onError })));
  return { out, errors, chunks };
}

function anthropicClient(body: () => ReadableStream<Uint8Array>) {
  return new Anthropic({ apiKey: "unused", baseURL: "https://gateway.test", maxRetries: 0, fetch: async () => new Response(body(), { headers: { "content-type": "text/event-stream" } }) });
}

const ask = { model: "claude", max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };

describe("openAIStreamToAnthropic", () => {
  it("emits the Anthropic event sequence for a text answer", async () => {
    const text = await new Response(viaOpenAI(openAITextStream()).out).text();
    const events = sseEvents(text);
    expect(events.map((e) => e.event)).toEqual(["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
    expect(events.every((e) => JSON.parse(e.data).type === e.event)).toBe(true);
    expect(JSON.parse(events.at(-2)!.data)).toEqual({ type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { input_tokens: 19, output_tokens: 10 } });
    // Same events whatever the byte boundaries of the Anthropic-side transform's input.
    const openaiSide = await new Response(new Response(openAITextStream()).body!.pipeThrough(forOpenAIClient(openaiAdapter.chatStream({ requestedModel: "claude", includeUsage: true, onUsage() {}, onText() {} })))).text();
    expect(await runText(everyByte(utf8(openaiSide)), forAnthropicClient(openAIStreamToAnthropic({ requestedModel: "claude" })))).toBe(text);
  });

  it("is accumulated by the official Anthropic client, tool calls included", async () => {
    const message = await anthropicClient(() => viaOpenAI(openAIToolStream()).out).messages.stream(ask).finalMessage();
    expect(message.model).toBe("claude");
    expect(message.content).toEqual([
      { type: "tool_use", id: "call_DdmO9pD3xa9XTPNJ32zg2hcA", name: "get_weather", input: { location: "Paris, France" } },
      { type: "tool_use", id: "call_ABC123", name: "get_time", input: { tz: "Europe/Paris" } },
    ]);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 82, output_tokens: 41 });
  });

  it("handles Azure's id-less prompt-filter chunk", async () => {
    const azure = new Response(azureTextStream()).body!;
    const message = await anthropicClient(() => azure.pipeThrough(forAnthropicClient(azureAdapter.chatStream({ requestedModel: "claude", includeUsage: true, onUsage() {}, onText() {} }), openAIStreamToAnthropic({ requestedModel: "claude" })))).messages.stream(ask).finalMessage();
    expect(message.id).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(message.content).toEqual([{ type: "text", text: "Hallo" }]);
    expect(message.usage).toMatchObject({ input_tokens: 12, output_tokens: 2 });
  });

  it("sends an Anthropic error event when the upstream fails mid-stream", async () => {
    const broken = openAITextStream().split("\n\n").slice(0, 3).join("\n\n") + "\n\n";
    const run = viaOpenAI(broken);
    const events = sseEvents(await new Response(run.out).text());
    expect(events.at(-1)).toEqual({ event: "error", data: JSON.stringify({ type: "error", error: { type: "api_error", message: "upstream stream ended before the response was complete", details: { error_code: "upstream_bad_response" } }, request_id: null, trace_id: TEST_TRACE }) });
    expect(run.errors.map((e) => e.kind)).toEqual(["upstream_bad_response"]);
    const client = anthropicClient(() => viaOpenAI(broken).out);
    await expect(client.messages.stream(ask).finalMessage()).rejects.toThrow(/ended before the response was complete/);
  });
});

describe("anthropic -> openai -> anthropic round trips", () => {
  const claude = preset({ provider: "anthropic", model: "claude", base_url: "https://api.anthropic.com/v1" });
  const asBlocks = (content: unknown) => (typeof content === "string" ? [{ type: "text", text: content }] : content);

  it("keeps a request's meaning", () => {
    const req = AnthropicMessagesRequestSchema.parse({ ...REQUEST, messages: REQUEST.messages.map((m) => ({ ...m, content: asBlocks(m.content) })) });
    const built = valueOf(anthropicAdapter.buildChatRequest(anthropicRequestToOpenAI(req), claude, { stream: true }));
    const back = JSON.parse(built.body!);
    const withoutThinking = req.messages.map((m) => ({ ...m, content: (m.content as Array<{ type: string }>).filter((b) => b.type !== "thinking") }));
    const normalized = withoutThinking.map((m) => ({ ...m, content: m.content.map((b) => (b.type === "tool_result" ? { ...b, content: "18°C" } : b)) }));
    expect(back).toEqual({
      model: "claude",
      max_tokens: 1024,
      system: [{ type: "text", text: "You are a weather bot." }, { type: "text", text: "Answer in French." }],
      messages: normalized,
      tools: REQUEST.tools,
      tool_choice: REQUEST.tool_choice,
      stop_sequences: REQUEST.stop_sequences,
      temperature: 0.3,
      metadata: REQUEST.metadata,
      stream: true,
    });
  });

  it("keeps a response's content, stop reason and token totals", () => {
    const openai = valueOf(anthropicAdapter.parseChatResponse(ANTHROPIC_MESSAGE, "claude"));
    const back = openAIResponseToAnthropic(openai.body, "claude") as typeof ANTHROPIC_MESSAGE;
    expect(back.content).toEqual(ANTHROPIC_MESSAGE.content.filter((b) => b.type !== "thinking"));
    expect(back.stop_reason).toBe("tool_use");
    expect(back.id).toBe(ANTHROPIC_MESSAGE.id);
    const u = ANTHROPIC_MESSAGE.usage;
    expect(back.usage).toEqual({ input_tokens: u.input_tokens + u.cache_creation_input_tokens, output_tokens: u.output_tokens, cache_read_input_tokens: u.cache_read_input_tokens });
  });

  it("keeps a stream's content, as the Anthropic client accumulates it", async () => {
    for (const upstream of [anthropicTextStream(), anthropicToolStream()]) {
      const direct = await anthropicClient(() => new Response(upstream).body!).messages.stream(ask).finalMessage();
      const roundTrip = await anthropicClient(() =>
        new Response(upstream).body!.pipeThrough(forAnthropicClient(anthropicAdapter.chatStream({ requestedModel: "claude", includeUsage: true, onUsage() {}, onText() {} }), openAIStreamToAnthropic({ requestedModel: "claude" }))),
      )
        .messages.stream(ask)
        .finalMessage();
      expect(roundTrip.content).toEqual(direct.content.filter((b) => b.type !== "thinking").map((b) => (b.type === "text" ? { type: "text", text: b.text } : b)));
      expect(roundTrip.stop_reason).toBe(direct.stop_reason);
      expect(roundTrip.id).toBe(direct.id);
      expect(roundTrip.usage.output_tokens).toBe(direct.usage.output_tokens);
    }
  });

  it("carries an upstream Anthropic error event through to the Anthropic client", async () => {
    const events = sseEvents(
      await new Response(
        new Response(anthropicErrorMidStream()).body!.pipeThrough(forAnthropicClient(anthropicAdapter.chatStream({ requestedModel: "claude", includeUsage: true, onUsage() {}, onText() {} }), openAIStreamToAnthropic({ requestedModel: "claude" }))),
      ).text(),
    );
    expect(events.at(-1)).toEqual({ event: "error", data: JSON.stringify({ type: "error", error: { type: "api_error", message: "anthropic: Overloaded", details: { error_code: "upstream_error" } }, request_id: null, trace_id: TEST_TRACE }) });
  });
});
