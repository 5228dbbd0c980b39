// Anthropic upstream: OpenAI request -> Messages request, Message -> chat.completion, error messages.
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../api/openai-schemas";
import { anthropicAdapter } from "./anthropic";
import { failureOf, valueOf } from "./fixtures/result";
import { ANTHROPIC_ERROR_BODY, ANTHROPIC_MESSAGE } from "./fixtures/anthropic";
import { preset } from "./fixtures/openai";

const claude = preset({ provider: "anthropic", model: "claude", upstream_model: "claude-sonnet-4-5-20250929", base_url: "https://api.anthropic.com/v1", auth: "x-api-key" });

function build(body: Partial<ChatCompletionRequest>, stream = false) {
  const r = valueOf(anthropicAdapter.buildChatRequest({ model: "claude", messages: [{ role: "user", content: "Hi" }], ...body }, claude, { stream }));
  return { ...r, json: JSON.parse(r.body!) as Record<string, unknown> };
}

const WEATHER_TOOL = {
  type: "function" as const,
  function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] } },
};

describe("anthropic buildChatRequest", () => {
  it("targets /messages with the API version header and a default max_tokens", () => {
    const r = build({});
    expect(r.url).toBe("https://api.anthropic.com/v1/messages");
    expect(r.headers).toEqual({ "content-type": "application/json", accept: "application/json", "anthropic-version": "2023-06-01" });
    expect(r.json).toEqual({ model: "claude-sonnet-4-5-20250929", max_tokens: 4096, messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }] });
  });

  it("sends the preset's max_output_tokens when the client sets no cap (and a null cap counts as none)", () => {
    const capped = preset({ ...claude, max_output_tokens: 1234 });
    const r = valueOf(anthropicAdapter.buildChatRequest({ model: "claude", messages: [{ role: "user", content: "Hi" }], max_tokens: null }, capped, { stream: false }));
    expect(JSON.parse(r.body!).max_tokens).toBe(1234);
  });

  it("maps sampling options, stop, user and stream", () => {
    const r = build({ max_tokens: 100, max_completion_tokens: 200, temperature: 0.5, top_p: 0.9, stop: "END", user: "u-1", seed: 7 }, true);
    expect(r.json).toMatchObject({ max_tokens: 200, temperature: 0.5, top_p: 0.9, stop_sequences: ["END"], metadata: { user_id: "u-1" }, stream: true });
    expect(r.json).not.toHaveProperty("seed");
    expect(r.headers.accept).toBe("text/event-stream");
    expect(build({ stop: ["a", "b"], max_tokens: 10 }).json).toMatchObject({ stop_sequences: ["a", "b"], max_tokens: 10 });
  });

  it("moves system and developer messages to system", () => {
    expect(build({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] }).json.system).toBe("Be brief.");
    const multi = build({
      messages: [
        { role: "system", content: [{ type: "text", text: "Rule one." }] },
        { role: "developer", content: "Rule two." },
        { role: "user", content: "Hi" },
      ],
    });
    expect(multi.json.system).toEqual([{ type: "text", text: "Rule one." }, { type: "text", text: "Rule two." }]);
  });

  it("converts a multi-turn tool conversation, merging tool results into one user turn", () => {
    const r = build({
      messages: [
        { role: "user", content: "Weather and time in Paris?" },
        {
          role: "assistant",
          content: "Let me check.",
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "call_2", type: "function", function: { name: "get_time", arguments: "" } },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "18°C, cloudy" },
        { role: "tool", tool_call_id: "call_2", content: [{ type: "text", text: "14:05" }] },
        { role: "user", content: "Thanks! And tomorrow?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_3", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris","day":"tomorrow"}' } }] },
        { role: "tool", tool_call_id: "call_3", content: "20°C" },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(r.json.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Weather and time in Paris?" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me check." },
          { type: "tool_use", id: "call_1", name: "get_weather", input: { location: "Paris" } },
          { type: "tool_use", id: "call_2", name: "get_time", input: {} },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "call_1", content: "18°C, cloudy" },
          { type: "tool_result", tool_use_id: "call_2", content: "14:05" },
          { type: "text", text: "Thanks! And tomorrow?" },
        ],
      },
      { role: "assistant", content: [{ type: "tool_use", id: "call_3", name: "get_weather", input: { location: "Paris", day: "tomorrow" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "call_3", content: "20°C" }] },
    ]);
    expect(r.json.tools).toEqual([{ name: "get_weather", description: "Current weather", input_schema: WEATHER_TOOL.function.parameters }]);
  });

  it("maps tool_choice and parallel_tool_calls", () => {
    const choice = (tool_choice: unknown, extra: Record<string, unknown> = {}) => build({ tools: [WEATHER_TOOL], tool_choice, ...extra }).json.tool_choice;
    expect(choice(undefined)).toBeUndefined();
    expect(choice("auto")).toEqual({ type: "auto" });
    expect(choice("required")).toEqual({ type: "any" });
    expect(choice("none")).toEqual({ type: "none" });
    expect(choice({ type: "function", function: { name: "get_weather" } })).toEqual({ type: "tool", name: "get_weather" });
    expect(choice("required", { parallel_tool_calls: false })).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(choice(undefined, { parallel_tool_calls: false })).toEqual({ type: "auto", disable_parallel_tool_use: true });
    expect(build({ tool_choice: "auto" }).json).not.toHaveProperty("tool_choice");
    expect(build({ tools: [{ type: "function", function: { name: "noop" } }] }).json.tools).toEqual([{ name: "noop", input_schema: { type: "object", properties: {} } }]);
  });

  it("sends images by URL or as base64", () => {
    const r = build({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Compare these." },
            { type: "image_url", image_url: { url: "https://upload.wikimedia.org/cat.jpg", detail: "high" } },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          ],
        },
      ],
    });
    expect(r.json.messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these." },
          { type: "image", source: { type: "url", url: "https://upload.wikimedia.org/cat.jpg" } },
          { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } },
        ],
      },
    ]);
  });

  it("refuses what Anthropic cannot express", () => {
    const attempt = (body: Partial<ChatCompletionRequest>) => anthropicAdapter.buildChatRequest({ model: "claude", messages: [{ role: "user", content: "Hi" }], ...body }, claude, { stream: false });
    const kinds = [
      attempt({ n: 2 }),
      attempt({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: "AAA", format: "wav" } }] }] }),
      attempt({ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "file:///etc/passwd" } }] }] }),
      attempt({ messages: [{ role: "user", content: "q" }, { role: "assistant", tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] }] }),
    ].map((r) => failureOf(r)?.kind ?? "built");
    expect(kinds).toEqual(["invalid_request", "invalid_request", "invalid_request", "invalid_request"]);
  });
});

describe("anthropic responses", () => {
  it("maps a Message with thinking, text and a tool call", () => {
    const r = valueOf(anthropicAdapter.parseChatResponse(ANTHROPIC_MESSAGE, "claude"));
    expect(r.body).toMatchObject({
      id: "msg_01Aq9w938a90dw8q",
      object: "chat.completion",
      model: "claude",
      choices: [
        {
          index: 0,
          finish_reason: "tool_calls",
          message: {
            role: "assistant",
            content: "I'll check the current weather in San Francisco for you.",
            tool_calls: [{ id: "toolu_01A09q90qw90lq917835lq9", type: "function", function: { name: "get_weather", arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } }],
          },
        },
      ],
      usage: { prompt_tokens: 582, completion_tokens: 91, total_tokens: 673, prompt_tokens_details: { cached_tokens: 100 } },
    });
    expect(r.usage).toEqual({ inputTokens: 582, outputTokens: 91, details: { cachedInputTokens: 100, cacheWriteInputTokens: 10, serviceTier: "standard" } });
  });

  it("maps every stop reason", () => {
    const finish = (stop_reason: string | null) => {
      const r = anthropicAdapter.parseChatResponse({ ...ANTHROPIC_MESSAGE, content: [{ type: "text", text: "x" }], stop_reason }, "m");
      return r.ok ? r.value.body.choices[0]?.finish_reason : r.failure.kind;
    };
    expect(["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal", "pause_turn", null].map(finish)).toEqual([
      "stop",
      "stop",
      "length",
      "tool_calls",
      "content_filter",
      "stop",
      "stop",
    ]);
  });

  it("fails on error and malformed bodies", () => {
    const err = anthropicAdapter.parseChatResponse(JSON.parse(ANTHROPIC_ERROR_BODY), "m");
    expect(failureOf(err)?.message).toBe("anthropic: messages.1.content.0.tool_result: tool_use_id not found");
    for (const json of [null, 3, { type: "message" }]) {
      const r = anthropicAdapter.parseChatResponse(json, "m");
      expect(failureOf(r)?.kind).toBe("upstream_bad_response");
    }
  });

  it("extracts error messages without credentials", () => {
    expect(anthropicAdapter.errorMessage(400, ANTHROPIC_ERROR_BODY)).toBe("anthropic: messages.1.content.0.tool_result: tool_use_id not found");
    expect(anthropicAdapter.errorMessage(401, JSON.stringify({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }))).toBe(
      "anthropic rejected the gateway's upstream credential (HTTP 401)",
    );
    const leaky = JSON.stringify({ type: "error", error: { type: "permission_error", message: "key sk-ant-api03-AbCdEfGhIjKlMnOp is disabled" } });
    expect(anthropicAdapter.errorMessage(403, leaky)).toBe("anthropic: key [redacted] is disabled");
    expect(anthropicAdapter.errorMessage(529, "")).toBe("anthropic returned HTTP 529");
  });
});
