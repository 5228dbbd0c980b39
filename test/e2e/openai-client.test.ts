// End to end in Node: starts the local stack exactly as `npm start` does (mock provider, PGlite or
// DATABASE_URL, wrangler dev on local workerd, seeded demo credentials) and drives both channels with
// the official `openai` client, unmodified but for baseURL and the key.
import { readFileSync, writeFileSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { createSigningFetch } from "../../src/client/signing-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";

interface Credentials {
  external: { base_url: string; api_key: string };
  external_signed: { base_url: string; api_key: string; signing_secret: string };
  internal: { base_url: string; token: string };
  admin_token: string;
}

let stack: { baseUrl: string; credentials: Credentials; stop: () => Promise<void> };
let clients: Record<"external" | "internal", OpenAI>;

beforeAll(async () => {
  const port = 18700 + Math.floor(Math.random() * 1000);
  stack = await startDevStack({ port, stateDir: `.dev/e2e-${port}`, quiet: true, log: () => {} });
  clients = {
    external: new OpenAI({ baseURL: stack.credentials.external.base_url, apiKey: stack.credentials.external.api_key, maxRetries: 0 }),
    internal: new OpenAI({ baseURL: stack.credentials.internal.base_url, apiKey: stack.credentials.internal.token, maxRetries: 0 }),
  };
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe.each(["external", "internal"] as const)("the official openai client on the %s channel", (channel) => {
  it("lists models", async () => {
    const models = [];
    for await (const model of clients[channel].models.list()) models.push(model.id);
    expect(models).toEqual(expect.arrayContaining(["mock-openai-chat", "mock-anthropic-chat", "mock-azure-chat", "mock-embed"]));
  });

  it("creates a chat completion", async () => {
    const reply = await clients[channel].chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "Hello from e2e" }] });
    expect(reply.choices[0]?.message.content).toMatch(/^Mock reply to: Hello from e2e/);
    expect(reply.usage?.prompt_tokens).toBe(7);
  });

  it("streams a chat completion chunk by chunk, with usage when asked", async () => {
    const stream = await clients[channel].chat.completions.create({
      model: "mock-openai-chat",
      messages: [{ role: "user", content: "Stream please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toMatch(/^Mock reply to: Stream please/);
    expect(usage?.prompt_tokens).toBe(6);
  });

  it("creates embeddings", async () => {
    const result = await clients[channel].embeddings.create({ model: "mock-embed", input: ["one", "two words"] });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding.length).toBeGreaterThan(0);
  });

  it("surfaces gateway errors as the client's typed errors", async () => {
    const error = await clients[channel].chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error.code).toBe("model_not_found");
  });
});

describe("the README's promises", () => {
  it("GET /health answers 200 when ready", async () => {
    const res = await fetch(`${stack.baseUrl}/health`);
    expect(res.status).toBe(200);
  });

  it("a plain curl-style request with the demo key works", async () => {
    const res = await fetch(`${stack.credentials.external.base_url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.credentials.external.api_key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "mock-openai-chat", messages: [{ role: "user", content: "Hello!" }] }),
    });
    expect(res.status).toBe(200);
  });

  it("docs/api/openapi.json is the document the gateway serves (UPDATE_DOCS=1 rewrites it)", async () => {
    const served = JSON.stringify(await (await fetch(`${stack.baseUrl}/openapi.json`)).json(), null, 2) + "\n";
    if (process.env.UPDATE_DOCS === "1") writeFileSync("docs/api/openapi.json", served);
    expect(readFileSync("docs/api/openapi.json", "utf8")).toBe(served);
  });
});

describe("request signing with the official openai client (a key with signature: required)", () => {
  it("signed requests pass; the same key unsigned is refused", async () => {
    const { base_url, api_key, signing_secret } = stack.credentials.external_signed;
    const signed = new OpenAI({ baseURL: base_url, apiKey: api_key, maxRetries: 0, fetch: createSigningFetch({ apiKey: api_key, signingSecret: signing_secret }) });
    const reply = await signed.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "Signed hello" }] });
    expect(reply.choices[0]?.message.content).toMatch(/^Mock reply to: Signed hello/);
    let chunks = 0;
    for await (const _ of await signed.chat.completions.create({ model: "mock-openai-chat", stream: true, messages: [{ role: "user", content: "Signed stream" }] })) chunks++;
    expect(chunks).toBeGreaterThan(3);
    const unsigned = new OpenAI({ baseURL: base_url, apiKey: api_key, maxRetries: 0 });
    const error = await unsigned.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error.code).toBe("missing_signature");
  });
});

const TOOL_OPENAI = [{ type: "function" as const, function: { name: "lookup", parameters: { type: "object", properties: { query: { type: "string" } } } } }];
const TOOL_ANTHROPIC = [{ name: "lookup", input_schema: { type: "object" as const, properties: { query: { type: "string" } } } }];

// Every pair of client format and upstream format, through the running gateway, with the official SDKs.
describe.each(["mock-openai-chat", "mock-anthropic-chat", "mock-azure-chat"])("upstream %s", (model) => {
  it("the openai client: chat, stream and tools", async () => {
    const client = clients.external;
    const reply = await client.chat.completions.create({ model, messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Cross format" }] });
    expect(reply.choices[0]?.message.content).toMatch(/^Mock reply to: Cross format/);
    let text = "";
    for await (const chunk of await client.chat.completions.create({ model, stream: true, messages: [{ role: "user", content: "Cross stream" }] })) text += chunk.choices[0]?.delta.content ?? "";
    expect(text).toMatch(/^Mock reply to: Cross stream/);
    const tool = await client.chat.completions.create({ model, tools: TOOL_OPENAI, messages: [{ role: "user", content: "find owls" }] });
    expect(tool.choices[0]?.finish_reason).toBe("tool_calls");
    expect(JSON.parse(tool.choices[0]!.message.tool_calls![0]!.function.arguments)).toEqual({ query: "find owls" });
  });

  it("the @anthropic-ai/sdk client: messages, stream and tools", async () => {
    const client = new Anthropic({ baseURL: stack.credentials.external.base_url.replace(/\/v1$/, ""), apiKey: stack.credentials.external.api_key, maxRetries: 0 });
    const reply = await client.messages.create({ model, max_tokens: 256, system: "Be brief", messages: [{ role: "user", content: "Anthropic client" }] });
    expect(reply.content[0]?.type === "text" && reply.content[0].text).toMatch(/^Mock reply to: Anthropic client/);
    expect(reply.stop_reason).toBe("end_turn");
    const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: "user", content: "Anthropic stream" }] });
    const final = await stream.finalMessage();
    expect(final.content[0]?.type === "text" && final.content[0].text).toMatch(/^Mock reply to: Anthropic stream/);
    expect(final.usage.output_tokens).toBeGreaterThan(0);
    const tool = await client.messages.create({ model, max_tokens: 256, tools: TOOL_ANTHROPIC, messages: [{ role: "user", content: "find bats" }] });
    expect(tool.stop_reason).toBe("tool_use");
    const use = tool.content.find((b) => b.type === "tool_use");
    expect(use?.type === "tool_use" && use.input).toEqual({ query: "find bats" });
  });
});

describe("what the official clients read off a response", () => {
  const anthropicClient = (apiKey = stack.credentials.external.api_key) =>
    new Anthropic({ baseURL: stack.credentials.external.base_url.replace(/\/v1$/, ""), apiKey, maxRetries: 0 });

  it("openai: _request_id and an error's requestID are the gateway's request id", async () => {
    const { data, response, request_id } = await clients.external.chat.completions.create({ model: "mock-openai-chat", messages: [{ role: "user", content: "ids" }] }).withResponse();
    expect(request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(data._request_id).toBe(request_id);
    expect(response.headers.get("x-gateway-request-id")).toBe(request_id);
    const error = await clients.external.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(error.requestID).toMatch(/^[0-9a-f]{32}$/);
    expect(error.requestID).not.toBe(request_id);
  });

  it("@anthropic-ai/sdk: _request_id, typed errors from Anthropic's error shape, requestID, countTokens", async () => {
    const client = anthropicClient();
    const { data, request_id } = await client.messages.create({ model: "mock-anthropic-chat", max_tokens: 32, messages: [{ role: "user", content: "ids" }] }).withResponse();
    expect(request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(data._request_id).toBe(request_id);
    const notFound = await client.messages.create({ model: "no-such-model", max_tokens: 8, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(notFound).toBeInstanceOf(Anthropic.NotFoundError);
    expect(notFound.requestID).toMatch(/^[0-9a-f]{32}$/);
    expect(notFound.error).toMatchObject({ type: "error", error: { type: "not_found_error", details: { error_code: "model_not_found" } }, request_id: notFound.requestID });
    const denied = await anthropicClient("gk_not_a_key").messages.create({ model: "mock-anthropic-chat", max_tokens: 8, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    const counted = await client.messages.countTokens({ model: "mock-anthropic-chat", system: "Be brief", messages: [{ role: "user", content: "count me" }] });
    const answered = await client.messages.create({ model: "mock-anthropic-chat", max_tokens: 8, system: "Be brief", messages: [{ role: "user", content: "count me" }] });
    expect(counted.input_tokens).toBe(answered.usage.input_tokens);
  });
});
