// OpenAI adapter: request shaping, response rewrite, error messages, and the passthrough stream.
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import type { ChatCompletionRequest } from "../api/openai-schemas";
import { openaiAdapter } from "./openai";
import type { TokenUsage, UpstreamHttpRequest } from "./types";
import type { GatewayFailure, Result } from "../errors";
import { failureOf, valueOf } from "./fixtures/result";
import { OPENAI_COMPLETION, openAITextStream, openAIToolStream, preset } from "./fixtures/openai";
import { everyByte, forOpenAIClient, randomCuts, runText, splitAt, sseEvents, sseJson, TEST_TRACE, utf8 } from "./fixtures/stream-helpers";

const request = (r: Result<UpstreamHttpRequest>): UpstreamHttpRequest => valueOf(r);

function streamOf(includeUsage: boolean) {
  const seen = { usage: [] as TokenUsage[], text: "", errors: [] as GatewayFailure[] };
  const transform = forOpenAIClient(
    openaiAdapter.chatStream({
      requestedModel: "my-gpt",
      includeUsage,
      onUsage: (u) => seen.usage.push(u),
      onText: (t) => (seen.text += t),
      onError: (f) => seen.errors.push(f),
    }),
  );
  return { transform, seen };
}

describe("openai buildChatRequest", () => {
  const body: ChatCompletionRequest = {
    model: "my-gpt",
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
    ],
    temperature: 0.2,
    response_format: { type: "json_object" },
    template: { name: "greeting" },
    variables: { name: "Ada" },
    stream_options: { include_usage: false },
  };

  it("sends the upstream model, drops gateway-only fields and keeps the rest", () => {
    const r = request(openaiAdapter.buildChatRequest(body, preset({ upstream_model: "gpt-4o-2024-08-06" }), { stream: false }));
    expect(r.url).toBe("https://api.openai.com/v1/chat/completions");
    expect(r.method).toBe("POST");
    expect(r.headers).toEqual({ "content-type": "application/json", accept: "application/json" });
    expect(JSON.parse(r.body!)).toEqual({
      model: "gpt-4o-2024-08-06",
      messages: body.messages,
      temperature: 0.2,
      response_format: { type: "json_object" },
      // No cap from the client: the preset's max_output_tokens, which the reservation covers.
      max_completion_tokens: 4096,
    });
  });

  it("sends the client's own cap as written, and the preset's in place of a null one", () => {
    const sent = (extra: Record<string, unknown>, over = {}) => JSON.parse(request(openaiAdapter.buildChatRequest({ ...body, ...extra }, preset(over), { stream: false })).body!);
    expect(sent({ max_tokens: 50 })).toMatchObject({ max_tokens: 50 });
    expect(sent({ max_tokens: 50 }).max_completion_tokens).toBeUndefined();
    expect(sent({ max_completion_tokens: 60 })).toMatchObject({ max_completion_tokens: 60 });
    const nulls = sent({ max_tokens: null, max_completion_tokens: null }, { max_output_tokens: 900 });
    expect(nulls.max_completion_tokens).toBe(900);
    expect("max_tokens" in nulls).toBe(false);
  });

  it("always asks for usage when streaming", () => {
    const r = request(openaiAdapter.buildChatRequest(body, preset(), { stream: true }));
    const sent = JSON.parse(r.body!);
    expect(sent.model).toBe("gpt-4o");
    expect(sent.stream).toBe(true);
    expect(sent.stream_options).toEqual({ include_usage: true });
    expect(r.headers.accept).toBe("text/event-stream");
  });

  it("builds embeddings requests", () => {
    const r = request(openaiAdapter.buildEmbeddingsRequest!({ model: "emb", input: ["a", "b"], dimensions: 256 }, preset({ upstream_model: "text-embedding-3-small" })));
    expect(r.url).toBe("https://api.openai.com/v1/embeddings");
    expect(JSON.parse(r.body!)).toEqual({ model: "text-embedding-3-small", input: ["a", "b"], dimensions: 256 });
  });
});

describe("openai responses", () => {
  it("rewrites the model and reports usage", () => {
    const r = valueOf(openaiAdapter.parseChatResponse(OPENAI_COMPLETION, "my-gpt"));
    expect(r.body.model).toBe("my-gpt");
    expect(r.body.choices[0]?.message.tool_calls?.[0]?.function.arguments).toBe('{"location":"Paris, France"}');
    expect(r.usage).toEqual({ inputTokens: 82, outputTokens: 17, details: { cachedInputTokens: 64, serviceTier: "default" } });
  });

  it("fails on bodies that are not chat completions", () => {
    for (const json of [null, "text", [], { object: "list" }]) {
      const r = openaiAdapter.parseChatResponse(json, "m");
      expect(failureOf(r)?.kind).toBe("upstream_bad_response");
    }
    const err = openaiAdapter.parseChatResponse({ error: { message: "boom", type: "server_error" } }, "m");
    expect(failureOf(err)?.kind).toBe("upstream_error");
  });

  it("parses embeddings", () => {
    const json = { object: "list", data: [{ object: "embedding", index: 0, embedding: [0.1, -0.2] }], model: "text-embedding-3-small", usage: { prompt_tokens: 5, total_tokens: 5 } };
    const r = valueOf(openaiAdapter.parseEmbeddingsResponse!(json, "emb"));
    expect(r.body.model).toBe("emb");
    expect(r.usage).toEqual({ inputTokens: 5, outputTokens: 0 });
  });

  it("turns error bodies into safe messages", () => {
    const keyError = JSON.stringify({ error: { message: "Incorrect API key provided: sk-proj-abc1********************xyz9. You can find your API key at https://platform.openai.com/account/api-keys.", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    expect(openaiAdapter.errorMessage(401, keyError)).toBe("openai rejected the gateway's upstream credential (HTTP 401)");
    expect(openaiAdapter.errorMessage(400, keyError)).not.toContain("sk-proj");
    expect(openaiAdapter.errorMessage(400, JSON.stringify({ error: { message: "Invalid 'messages[1].content': string too long.", type: "invalid_request_error" } }))).toBe(
      "openai: Invalid 'messages[1].content': string too long.",
    );
    expect(openaiAdapter.errorMessage(502, "<html><body>Bad gateway Authorization: Bearer abc</body></html>")).toBe("openai returned HTTP 502");
    expect(openaiAdapter.errorMessage(400, JSON.stringify({ error: { message: "x".repeat(2000) } })).length).toBeLessThan(600);
  });
});

describe("openai stream", () => {
  it("passes chunks through with the model rewritten and hides the usage chunk the client did not ask for", async () => {
    const upstream = openAITextStream();
    const { transform, seen } = streamOf(false);
    const out = await runText([utf8(upstream)], transform);
    const inputs = sseEvents(upstream).map((e) => e.data);
    const outputs = sseEvents(out).map((e) => e.data);
    // Same bytes as the upstream except the model, and one event fewer (the usage-only chunk).
    expect(outputs).toEqual(inputs.filter((d) => !d.includes('"choices":[]')).map((d) => d.replace('"model":"gpt-4o-2024-08-06"', '"model":"my-gpt"')));
    expect(seen.usage).toEqual([{ inputTokens: 19, outputTokens: 10 }]);
    expect(seen.text).toBe("Grüße 👋 from 東京.");
    expect(seen.errors).toEqual([]);
  });

  it("keeps the usage chunk when the client asked, whatever the byte boundaries", async () => {
    const bytes = utf8(openAITextStream());
    const expected = await runText([bytes], streamOf(true).transform);
    expect(sseJson(expected).at(-2)).toMatchObject({ choices: [], usage: { total_tokens: 29 }, model: "my-gpt" });
    expect(await runText(everyByte(bytes), streamOf(true).transform)).toBe(expected);
    for (let seed = 1; seed <= 20; seed++) {
      const { transform, seen } = streamOf(true);
      expect(await runText(splitAt(bytes, randomCuts(bytes.length, 8, seed)), transform)).toBe(expected);
      expect(seen.text).toBe("Grüße 👋 from 東京.");
    }
  });

  it("reports tool names and arguments as text and passes tool call deltas on", async () => {
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8(openAIToolStream())], transform));
    expect(seen.text).toBe('get_weather{"location": "Paris, France"}get_time{"tz":"Europe/Paris"}');
    expect(seen.usage).toEqual([{ inputTokens: 82, outputTokens: 41 }]);
    expect(out.at(-1)).toBe("[DONE]");
    expect(out.at(-2)).toMatchObject({ choices: [{ finish_reason: "tool_calls" }] });
  });

  it("strips usage from a content chunk when the upstream puts it there", async () => {
    const upstream = 'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\ndata: [DONE]\n\n';
    const { transform, seen } = streamOf(false);
    const [first] = sseJson(await runText([utf8(upstream)], transform));
    expect(first).toEqual({ id: "x", object: "chat.completion.chunk", created: 1, model: "my-gpt", choices: [{ index: 0, delta: { content: "hi" }, finish_reason: "stop" }] });
    expect(seen.usage).toEqual([{ inputTokens: 3, outputTokens: 1 }]);
  });

  it("turns an upstream error chunk into the gateway's error event, without [DONE]", async () => {
    const upstream = openAITextStream().split("\n\n").slice(0, 2).join("\n\n") + '\n\ndata: {"error":{"message":"The server had an error processing your request.","type":"server_error","param":null,"code":null}}\n\n';
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8(upstream)], transform));
    expect(out.at(-1)).toEqual({ error: { message: "openai: The server had an error processing your request.", type: "upstream_error", code: "upstream_error", param: null }, trace_id: TEST_TRACE });
    expect(out).not.toContain("[DONE]");
    expect(seen.errors.map((e) => e.kind)).toEqual(["upstream_error"]);
  });

  it("treats a named error event from an OpenAI-compatible server as a failure", async () => {
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8('event: error\ndata: {"message":"model overloaded"}\n\n')], transform));
    expect(out).toEqual([{ error: expect.objectContaining({ code: "upstream_error", message: 'openai: {"message":"model overloaded"}' }), trace_id: TEST_TRACE }]);
    expect(seen.errors).toHaveLength(1);
  });

  it("flags a stream cut before the answer finished", async () => {
    const cut = openAITextStream().split("\n\n").slice(0, 3).join("\n\n") + "\n\n";
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8(cut)], transform));
    expect(out.at(-1)).toMatchObject({ error: { code: "upstream_bad_response" } });
    expect(seen.errors).toHaveLength(1);
    expect(seen.usage).toEqual([]);
  });

  it("completes a stream that lost only its [DONE]", async () => {
    const upstream = openAITextStream().replace("data: [DONE]\n\n", "");
    const { transform, seen } = streamOf(true);
    const out = sseJson(await runText([utf8(upstream)], transform));
    expect(out.at(-1)).toBe("[DONE]");
    expect(seen.errors).toEqual([]);
  });

  it("stops at malformed data and ignores what follows", async () => {
    const upstream = 'data: {"id":"x","choices":[{"index":0,"delta":{"content":"a"}}]}\n\ndata: {not json\n\ndata: {"id":"x","choices":[{"index":0,"delta":{"content":"b"}}]}\n\ndata: [DONE]\n\n';
    const { transform, seen } = streamOf(false);
    const out = sseJson(await runText([utf8(upstream)], transform));
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ error: { code: "upstream_bad_response" } });
    expect(seen.text).toBe("a");
  });

  it("is read by the official OpenAI client", async () => {
    const client = (body: string) =>
      new OpenAI({
        apiKey: "unused",
        baseURL: "https://gateway.test/v1",
        maxRetries: 0,
        fetch: async () => new Response(new Response(body).body!.pipeThrough(streamOf(true).transform), { headers: { "content-type": "text/event-stream" } }),
      });
    const stream = await client(openAITextStream()).chat.completions.create({ model: "my-gpt", messages: [{ role: "user", content: "hi" }], stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toBe("Grüße 👋 from 東京.");

    const broken = openAITextStream().split("\n\n").slice(0, 2).join("\n\n") + "\n\n";
    const failing = await client(broken).chat.completions.create({ model: "my-gpt", messages: [{ role: "user", content: "hi" }], stream: true });
    await expect(async () => {
      for await (const _ of failing) void _;
    }).rejects.toThrow(/ended before the response was complete/);
  });
});
