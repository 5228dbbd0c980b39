// Wire formats of the mock provider: OpenAI, Anthropic and Azure, plain and streamed, tools, embeddings.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Json, type MockProvider, anthropic, azure, openai, openaiChunks, parseSse, setScenario, startMockProvider, words,
} from "./test-utils";

let mock: MockProvider;
beforeAll(async () => {
  mock = await startMockProvider();
});
afterAll(() => mock.close());

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: "gpt-4o-mini",
  messages: [{ role: "system", content: "You are terse." }, { role: "user", content }],
  ...extra,
});
const TOOLS = [{ type: "function", function: { name: "search_docs", parameters: { type: "object" } } }, { type: "function", function: { name: "other" } }];

describe("OpenAI chat completions", () => {
  it("answers with the documented body, content-length and the token rule", async () => {
    const res = await openai(mock, chat("Hello there friend"));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(res.headers.get("content-length")).toBe(String(new TextEncoder().encode(text).length));
    expect(text.length).toBeGreaterThan(1200);
    expect(text.length).toBeLessThan(1600);
    const body: Json = JSON.parse(text);
    expect(body).toMatchObject({ object: "chat.completion", model: "gpt-4o-mini", choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }] });
    expect(body.id).toMatch(/^chatcmpl-/);
    const content: string = body.choices[0].message.content;
    expect(content.startsWith("Mock reply to: Hello there friend ")).toBe(true);
    // prompt: (4 + 3 words) + (4 + 3 words); completion: the default 130 words
    expect(body.usage).toMatchObject({ prompt_tokens: 14, completion_tokens: 130, total_tokens: 144 });
    expect(words(content)).toBe(130);
  });

  it("streams role, content chunks, finish, usage chunk and [DONE] that add up to the plain answer", async () => {
    const plain: Json = await (await openai(mock, chat("Stream me"))).json();
    const res = await openai(mock, chat("Stream me", { stream: true, stream_options: { include_usage: true } }));
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const chunks = openaiChunks(await res.text());
    expect(chunks[0].choices[0].delta.role).toBe("assistant");
    const content = chunks.slice(1, -2).map((c) => c.choices[0].delta.content);
    expect(content).toHaveLength(8);
    expect(content.join("")).toBe(plain.choices[0].message.content);
    expect(chunks.at(-2).choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    expect(chunks.at(-1).choices).toEqual([]);
    expect(chunks.at(-1).usage).toMatchObject(plain.usage);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it("sends no usage chunk unless include_usage is set, and honours the chunks setting", async () => {
    await setScenario(mock.url, "three-chunks", { chunks: 3 });
    const chunks = openaiChunks(await (await openai({ ...mock, scenario: "three-chunks" }, chat("x", { stream: true }))).text());
    expect(chunks.every((c) => !("usage" in c))).toBe(true);
    expect(chunks).toHaveLength(1 + 3 + 1);
  });

  it("sizes the reply by completion_tokens (10 KB variant) and caps it by max_tokens", async () => {
    await setScenario(mock.url, "ten-kb", { completion_tokens: 1470 });
    const big = await (await openai({ ...mock, scenario: "ten-kb" }, chat("big"))).text();
    expect(big.length).toBeGreaterThan(9_500);
    expect(big.length).toBeLessThan(11_000);
    const capped: Json = await (await openai(mock, chat("short please", { max_completion_tokens: 5 }))).json();
    expect(capped.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "Mock reply to: short please" } });
    expect(capped.usage.completion_tokens).toBe(5);
  });

  it("rejects a body without messages or model, and invalid JSON, with OpenAI's error shape", async () => {
    const noMessages: Json = await (await openai(mock, { model: "gpt-4o-mini" })).json();
    expect(noMessages.error).toMatchObject({ type: "invalid_request_error", param: "messages" });
    expect((await openai(mock, { messages: [{ role: "user", content: "x" }] })).status).toBe(400);
    const bad = await fetch(`${mock.url}/v1/chat/completions`, { method: "POST", headers: { authorization: "Bearer mock-upstream-key" }, body: "{nope" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Json).error.message).toContain("parse the JSON body");
  });
});

describe("tools", () => {
  it("calls the first tool with the last user text, plain and streamed", async () => {
    const body: Json = await (await openai(mock, chat("weather in Paris", { tools: TOOLS }))).json();
    const choice = body.choices[0];
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls[0]).toMatchObject({ type: "function", function: { name: "search_docs" } });
    expect(JSON.parse(choice.message.tool_calls[0].function.arguments)).toEqual({ query: "weather in Paris" });
    // arguments {"query":"weather in Paris"} are 3 words
    expect(body.usage.completion_tokens).toBe(3);

    const chunks = openaiChunks(await (await openai(mock, chat("weather in Paris", { tools: TOOLS, stream: true }))).text());
    expect(chunks[0].choices[0].delta.tool_calls[0]).toMatchObject({ index: 0, type: "function", function: { name: "search_docs", arguments: "" } });
    const args = chunks.slice(1, -1).map((c) => c.choices[0].delta.tool_calls[0].function.arguments).join("");
    expect(JSON.parse(args)).toEqual({ query: "weather in Paris" });
    expect(chunks.at(-1).choices[0].finish_reason).toBe("tool_calls");
  });

  it("follows a named tool_choice, answers text for tool_choice none and after a tool result", async () => {
    const named: Json = await (await openai(mock, chat("q", { tools: TOOLS, tool_choice: { type: "function", function: { name: "other" } } }))).json();
    expect(named.choices[0].message.tool_calls[0].function.name).toBe("other");
    const none: Json = await (await openai(mock, chat("q", { tools: TOOLS, tool_choice: "none" }))).json();
    expect(none.choices[0].finish_reason).toBe("stop");
    const after: Json = await (await openai(mock, {
      model: "gpt-4o-mini",
      tools: TOOLS,
      messages: [
        { role: "user", content: "weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "search_docs", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "Sunny, 21C" },
      ],
    })).json();
    expect(after.choices[0].finish_reason).toBe("stop");
    expect(after.choices[0].message.content.startsWith("Mock reply to: Sunny, 21C")).toBe(true);
  });

  it("streams an Anthropic tool_use block with input_json_delta and answers text after a tool_result", async () => {
    const tools = [{ name: "lookup_city", input_schema: { type: "object" } }];
    const events = parseSse(await (await anthropic(mock, { model: "claude-x", max_tokens: 100, stream: true, tools, messages: [{ role: "user", content: "Find Lyon" }] })).text());
    const start = JSON.parse(events[1]!.data);
    expect(start.content_block).toMatchObject({ type: "tool_use", name: "lookup_city", input: {} });
    const partial = events.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta);
    expect(partial.every((d) => d.type === "input_json_delta")).toBe(true);
    expect(JSON.parse(partial.map((d) => d.partial_json).join(""))).toEqual({ query: "Find Lyon" });
    expect(JSON.parse(events.find((e) => e.event === "message_delta")!.data).delta.stop_reason).toBe("tool_use");

    const after: Json = await (await anthropic(mock, {
      model: "claude-x", max_tokens: 1024, tools,
      messages: [
        { role: "user", content: "Find Lyon" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "lookup_city", input: { query: "Find Lyon" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "Lyon is in France" }] },
      ],
    })).json();
    expect(after.stop_reason).toBe("end_turn");
    expect(after.content[0].text.startsWith("Mock reply to: Lyon is in France")).toBe(true);
  });
});

describe("Anthropic messages", () => {
  const msg = (extra: Record<string, unknown> = {}) => ({ model: "claude-sonnet-4-5", max_tokens: 1024, system: "Be brief", messages: [{ role: "user", content: "Hi you" }], ...extra });

  it("answers with the Messages body and usage from the token rule", async () => {
    const res = await anthropic(mock, msg());
    expect(res.status).toBe(200);
    const body: Json = await res.json();
    expect(body).toMatchObject({ type: "message", role: "assistant", model: "claude-sonnet-4-5", stop_reason: "end_turn", stop_sequence: null });
    expect(body.id).toMatch(/^msg_/);
    expect(body.content[0].type).toBe("text");
    expect(body.content[0].text.startsWith("Mock reply to: Hi you")).toBe(true);
    // (4 + 2 words of system) + (4 + 2 words of the message)
    expect(body.usage).toMatchObject({ input_tokens: 12, output_tokens: 130 });
  });

  it("counts tokens at /v1/messages/count_tokens as the Messages answer would report them", async () => {
    const count = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${mock.url}/v1/messages/count_tokens`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": "mock-upstream-key", "anthropic-version": "2023-06-01", ...headers }, body: JSON.stringify(body) });
    const { max_tokens: _, ...countBody } = msg();
    const res = await count(countBody);
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^mock-/);
    expect(await res.json()).toEqual({ input_tokens: 12 });
    expect((await count({ model: "x" })).status).toBe(400);
    expect((await count(countBody, { "x-api-key": "wrong" })).status).toBe(401);
  });

  it("streams the documented event sequence", async () => {
    const plain: Json = await (await anthropic(mock, msg())).json();
    const events = parseSse(await (await anthropic(mock, msg({ stream: true }))).text());
    expect(events.map((e) => e.event)).toEqual([
      "message_start", "content_block_start", "ping", ...Array(8).fill("content_block_delta"), "content_block_stop", "message_delta", "message_stop",
    ]);
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);
    const start = JSON.parse(events[0]!.data).message;
    expect(start).toMatchObject({ role: "assistant", content: [], stop_reason: null, usage: { input_tokens: 12 } });
    const text = events.slice(3, 11).map((e) => JSON.parse(e.data).delta.text).join("");
    expect(text).toBe(plain.content[0].text);
    expect(JSON.parse(events[12]!.data)).toMatchObject({ delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 130 } });
  });

  it("requires max_tokens and reports max_tokens truncation", async () => {
    const missing = await anthropic(mock, { model: "c", messages: [{ role: "user", content: "x" }] });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const short: Json = await (await anthropic(mock, msg({ max_tokens: 4 }))).json();
    expect(short).toMatchObject({ stop_reason: "max_tokens", usage: { output_tokens: 4 }, content: [{ text: "Mock reply to: Hi" }] });
  });
});

describe("Azure OpenAI", () => {
  it("answers chat with the deployment as model and content filter results", async () => {
    const body: Json = await (await azure(mock, "my-gpt4o", "chat/completions", { messages: [{ role: "user", content: "hi azure" }] })).json();
    expect(body.model).toBe("my-gpt4o");
    expect(body.prompt_filter_results[0].prompt_index).toBe(0);
    expect(body.choices[0].content_filter_results.hate).toEqual({ filtered: false, severity: "safe" });
    expect(body.choices[0].message.content.startsWith("Mock reply to: hi azure")).toBe(true);
  });

  it("streams with Azure's leading prompt-filter chunk", async () => {
    const res = await azure(mock, "my-gpt4o", "chat/completions", { stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "x" }] });
    const chunks = openaiChunks(await res.text());
    expect(chunks[0]).toMatchObject({ id: "", choices: [], prompt_filter_results: [{ prompt_index: 0 }] });
    expect(chunks[1]).toMatchObject({ model: "my-gpt4o", choices: [{ delta: { role: "assistant" } }] });
    expect(chunks.at(-1).usage.completion_tokens).toBe(130);
  });

  it("answers embeddings and wants api-version", async () => {
    const body: Json = await (await azure(mock, "emb-small", "embeddings", { input: "one two" })).json();
    expect(body).toMatchObject({ object: "list", model: "emb-small", usage: { prompt_tokens: 2, total_tokens: 2 } });
    const res = await azure(mock, "emb-small", "embeddings", { input: "x" }, "");
    expect(res.status).toBe(400);
    expect(((await res.json()) as Json).error.message).toContain("api-version");
  });
});

describe("embeddings and models", () => {
  it("returns deterministic unit vectors, equal in float and base64 encodings", async () => {
    const body = { model: "text-embedding-3-small", input: ["alpha beta", "gamma", "alpha beta"] };
    const floats: Json = await (await openai(mock, body, "/v1/embeddings")).json();
    expect(floats.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const [a, b, c] = floats.data.map((d: Json) => d.embedding as number[]);
    expect(a).toHaveLength(8);
    expect(a).toEqual(c);
    expect(a).not.toEqual(b);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    const b64: Json = await (await openai(mock, { ...body, encoding_format: "base64" }, "/v1/embeddings")).json();
    const bytes = Uint8Array.from(atob(b64.data[0].embedding), (ch) => ch.charCodeAt(0));
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual(a);
    const dims: Json = await (await openai(mock, { ...body, dimensions: 16 }, "/v1/embeddings")).json();
    expect(dims.data[0].embedding).toHaveLength(16);
  });

  it("lists models for OpenAI and for Anthropic clients", async () => {
    const oa: Json = await (await fetch(`${mock.url}/v1/models`, { headers: { authorization: "Bearer mock-upstream-key" } })).json();
    expect(oa.object).toBe("list");
    expect(oa.data.map((m: Json) => m.id)).toContain("gpt-4o-mini");
    const an: Json = await (await fetch(`${mock.url}/v1/models`, { headers: { "x-api-key": "mock-upstream-key", "anthropic-version": "2023-06-01" } })).json();
    expect(an.data[0].type).toBe("model");
    expect(an.has_more).toBe(false);
  });
});
