// End to end in Node: starts the local stack exactly as `npm start` does (mock provider, PGlite or
// DATABASE_URL, wrangler dev on local workerd, seeded demo credentials) and drives both channels with
// the official `openai` client, unmodified but for baseURL and the key.
import { readFileSync, writeFileSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error plain ESM module without types
import { startDevStack } from "../../scripts/dev-stack.mjs";

interface Credentials {
  external: { base_url: string; api_key: string };
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
