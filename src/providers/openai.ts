// OpenAI chat completions and embeddings: near passthrough (model swap, usage capture, model rewrite).
import type { ChatCompletionRequest, EmbeddingsRequest } from "../api/openai-schemas";
import type { PresetItem } from "../config/schemas";
import { err, fail, ok, type Result } from "../errors";
import { isRecord, joinUrl, jsonHeaders, openAIUsage, upstreamErrorMessage } from "./common";
import { openAIChatStream } from "./openai-stream";
import type { OpenAIChatCompletion, OpenAIEmbeddingsResponse, ParsedAnswer, ProviderAdapter } from "./types";
import { withOutputCap } from "./output-cap";

/**
 * The body to send an OpenAI-compatible upstream. Gateway-only fields go; when streaming, usage is
 * always requested so it can be billed (the stream transform hides it again if the client did not ask).
 * `model` undefined leaves it out (Azure names the deployment in the URL).
 */
export function openAIChatBody(body: ChatCompletionRequest, model: string | undefined, stream: boolean): Record<string, unknown> {
  const { template: _template, variables: _variables, stream: _stream, stream_options, model: _model, ...rest } = body;
  const out: Record<string, unknown> = model === undefined ? { ...rest } : { model, ...rest };
  if (stream) {
    out.stream = true;
    out.stream_options = { ...(stream_options ?? {}), include_usage: true };
  }
  return out;
}

export function parseOpenAIChat(json: unknown, requestedModel: string, provider: string): Result<ParsedAnswer<OpenAIChatCompletion>> {
  if (!isRecord(json)) return err(fail("upstream_bad_response", `${provider} response is not a JSON object`));
  if (isRecord(json.error)) return err(fail("upstream_error", upstreamErrorMessage(provider, 200, JSON.stringify(json))));
  if (!Array.isArray(json.choices)) return err(fail("upstream_bad_response", `${provider} response has no choices`));
  const body = { ...json, model: requestedModel } as unknown as OpenAIChatCompletion;
  const usage = openAIUsage(json.usage, json.service_tier);
  return ok(usage ? { body, usage } : { body });
}

export function parseOpenAIEmbeddings(json: unknown, requestedModel: string, provider: string): Result<ParsedAnswer<OpenAIEmbeddingsResponse>> {
  if (!isRecord(json) || !Array.isArray(json.data)) return err(fail("upstream_bad_response", `${provider} embeddings response has no data`));
  const body = { ...json, model: requestedModel } as unknown as OpenAIEmbeddingsResponse;
  if (!isRecord(json.usage)) return ok({ body });
  const input = typeof json.usage.prompt_tokens === "number" ? json.usage.prompt_tokens : 0;
  return ok({ body, usage: { inputTokens: input, outputTokens: 0 } });
}

export const openaiAdapter: ProviderAdapter = {
  kind: "openai",
  buildChatRequest(body: ChatCompletionRequest, target: PresetItem, { stream }) {
    return ok({
      url: joinUrl(target.base_url, "/chat/completions"),
      method: "POST",
      headers: jsonHeaders(stream),
      body: JSON.stringify(withOutputCap(openAIChatBody(body, target.upstream_model ?? target.model, stream), target)),
    });
  },
  buildEmbeddingsRequest(body: EmbeddingsRequest, target: PresetItem) {
    return ok({
      url: joinUrl(target.base_url, "/embeddings"),
      method: "POST",
      headers: jsonHeaders(false),
      body: JSON.stringify({ ...body, model: target.upstream_model ?? target.model }),
    });
  },
  parseChatResponse: (json, requestedModel) => parseOpenAIChat(json, requestedModel, "openai"),
  chatStream: (opts) => openAIChatStream(opts, "openai"),
  parseEmbeddingsResponse: (json, requestedModel) => parseOpenAIEmbeddings(json, requestedModel, "openai"),
  errorMessage: (status, bodyText) => upstreamErrorMessage("openai", status, bodyText),
};
