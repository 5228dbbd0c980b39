// Azure adapter: deployment URLs and api-version, no model in the body, OpenAI-format streams with filter chunks.
import { describe, expect, it } from "vitest";
import { azureAdapter } from "./azure";
import type { TokenUsage } from "./types";
import { valueOf } from "./fixtures/result";
import { azureTextStream, preset } from "./fixtures/openai";
import { everyByte, forOpenAIClient, runText, sseJson, utf8 } from "./fixtures/stream-helpers";

const azure = preset({ provider: "azure", base_url: "https://contoso.openai.azure.com", model: "gpt-4o", upstream_model: "prod gpt4o", auth: "api-key" });

describe("azure adapter", () => {
  it("puts deployment and api-version in the URL and leaves model out of the body", () => {
    const r = valueOf(azureAdapter.buildChatRequest({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], template: { name: "t" } }, azure, { stream: true }));
    expect(r.url).toBe("https://contoso.openai.azure.com/openai/deployments/prod%20gpt4o/chat/completions?api-version=2024-10-21");
    expect(JSON.parse(r.body!)).toEqual({ messages: [{ role: "user", content: "hi" }], stream: true, stream_options: { include_usage: true }, max_completion_tokens: 4096 });
  });

  it("uses the configured api-version and deployment for embeddings", () => {
    const r = valueOf(azureAdapter.buildEmbeddingsRequest!({ model: "emb", input: "hello" }, { ...azure, upstream_model: "emb-large", api_version: "2025-01-01-preview" }));
    expect(r.url).toBe("https://contoso.openai.azure.com/openai/deployments/emb-large/embeddings?api-version=2025-01-01-preview");
    expect(JSON.parse(r.body!)).toEqual({ input: "hello" });
  });

  it("streams Azure chunks (prompt filter chunk included) with the client's model name", async () => {
    const usage: TokenUsage[] = [];
    let text = "";
    const t = () => forOpenAIClient(azureAdapter.chatStream({ requestedModel: "gpt-4o", includeUsage: false, onUsage: (u) => usage.push(u), onText: (s) => (text += s) }));
    const out = await runText([utf8(azureTextStream())], t());
    const events = sseJson(out) as Array<Record<string, unknown>>;
    expect(events[0]).toMatchObject({ choices: [], model: "gpt-4o", prompt_filter_results: [{ prompt_index: 0 }] });
    expect(events.slice(0, -1).every((e) => e.model === "gpt-4o")).toBe(true);
    expect(events.some((e) => e.usage)).toBe(false);
    expect(events.at(-1)).toBe("[DONE]");
    expect(usage).toEqual([{ inputTokens: 12, outputTokens: 2 }]);
    expect(text).toBe("Hallo");
    expect(await runText(everyByte(utf8(azureTextStream())), t())).toBe(out);
  });

  it("reads Azure error bodies", () => {
    const body = JSON.stringify({ error: { code: "DeploymentNotFound", message: "The API deployment for this resource does not exist." } });
    expect(azureAdapter.errorMessage(404, body)).toBe("azure: The API deployment for this resource does not exist.");
  });
});
