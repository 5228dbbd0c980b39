// Azure OpenAI: the OpenAI wire format, with the deployment and api-version in the URL instead of `model`.
import type { PresetItem } from "../config/schemas";
import { ok } from "../errors";
import { joinUrl, jsonHeaders, upstreamErrorMessage } from "./common";
import { openAIChatBody, parseOpenAIChat, parseOpenAIEmbeddings } from "./openai";
import { openAIChatStream } from "./openai-stream";
import type { ProviderAdapter } from "./types";
import { withOutputCap } from "./output-cap";

/** GA version that has stream_options (usage in streams) and max_completion_tokens. */
export const AZURE_DEFAULT_API_VERSION = "2024-10-21";

function deploymentUrl(target: PresetItem, operation: "chat/completions" | "embeddings"): string {
  const deployment = encodeURIComponent(target.upstream_model ?? target.model);
  const version = encodeURIComponent(target.api_version ?? AZURE_DEFAULT_API_VERSION);
  return joinUrl(target.base_url, `/openai/deployments/${deployment}/${operation}?api-version=${version}`);
}

export const azureAdapter: ProviderAdapter = {
  kind: "azure",
  buildChatRequest(body, target, { stream }) {
    return ok({
      url: deploymentUrl(target, "chat/completions"),
      method: "POST",
      headers: jsonHeaders(stream),
      body: JSON.stringify(withOutputCap(openAIChatBody(body, undefined, stream), target)),
    });
  },
  buildEmbeddingsRequest(body, target) {
    const { model: _model, ...rest } = body;
    return ok({ url: deploymentUrl(target, "embeddings"), method: "POST", headers: jsonHeaders(false), body: JSON.stringify(rest) });
  },
  parseChatResponse: (json, requestedModel) => parseOpenAIChat(json, requestedModel, "azure"),
  chatStream: (opts) => openAIChatStream(opts, "azure"),
  parseEmbeddingsResponse: (json, requestedModel) => parseOpenAIEmbeddings(json, requestedModel, "azure"),
  errorMessage: (status, bodyText) => upstreamErrorMessage("azure", status, bodyText),
};
