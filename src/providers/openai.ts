// OpenAI chat completions and embeddings: near passthrough (model swap, usage capture, model rewrite).
import type { ChatCompletionRequest, EmbeddingsRequest } from "../api/openai-schemas";
import type { PresetItem } from "../config/schemas";
import { fail, type GatewayFailure } from "../errors";
import {
  isRecord,
  joinUrl,
  jsonHeaders,
  openAIErrorData,
  openAIUsage,
  parseJsonEvent,
  redact,
  sseTransform,
  truncatedStream,
  upstreamErrorMessage,
  type StreamSink,
} from "./common";
import { formatSse } from "./sse";
import type { ChatStreamOptions, OpenAIChatCompletion, OpenAIEmbeddingsResponse, ProviderAdapter, TokenUsage } from "./types";

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

export function parseOpenAIChat(json: unknown, requestedModel: string, provider: string): { body: OpenAIChatCompletion; usage?: TokenUsage } | GatewayFailure {
  if (!isRecord(json)) return fail("upstream_bad_response", `${provider} response is not a JSON object`);
  if (isRecord(json.error)) return fail("upstream_error", upstreamErrorMessage(provider, 200, JSON.stringify(json)));
  if (!Array.isArray(json.choices)) return fail("upstream_bad_response", `${provider} response has no choices`);
  const body = { ...json, model: requestedModel } as unknown as OpenAIChatCompletion;
  const usage = openAIUsage(json.usage);
  return usage ? { body, usage } : { body };
}

export function parseOpenAIEmbeddings(json: unknown, requestedModel: string, provider: string): { body: OpenAIEmbeddingsResponse; usage?: TokenUsage } | GatewayFailure {
  if (!isRecord(json) || !Array.isArray(json.data)) return fail("upstream_bad_response", `${provider} embeddings response has no data`);
  const body = { ...json, model: requestedModel } as unknown as OpenAIEmbeddingsResponse;
  if (!isRecord(json.usage)) return { body };
  const input = typeof json.usage.prompt_tokens === "number" ? json.usage.prompt_tokens : 0;
  return { body, usage: { inputTokens: input, outputTokens: 0 } };
}

const MODEL_FIELD = /"model"\s*:\s*"(?:[^"\\]|\\.)*"/;

function reportText(chunk: Record<string, unknown>, onText: (t: string) => void): boolean {
  let finished = false;
  const choices = Array.isArray(chunk.choices) ? chunk.choices : [];
  for (const choice of choices) {
    if (!isRecord(choice)) continue;
    if (typeof choice.finish_reason === "string") finished = true;
    const delta = choice.delta;
    if (!isRecord(delta)) continue;
    if (typeof delta.content === "string" && delta.content) onText(delta.content);
    if (typeof delta.refusal === "string" && delta.refusal) onText(delta.refusal);
    if (!Array.isArray(delta.tool_calls)) continue;
    for (const call of delta.tool_calls) {
      const fn = isRecord(call) ? call.function : undefined;
      if (!isRecord(fn)) continue;
      if (typeof fn.name === "string" && fn.name) onText(fn.name);
      if (typeof fn.arguments === "string" && fn.arguments) onText(fn.arguments);
    }
  }
  return finished;
}

/**
 * OpenAI-format SSE -> the same for the client. Each chunk is parsed (small objects) but sent as the
 * upstream wrote it, with only the model name spliced in; a chunk is re-serialized only to hide usage
 * the client did not ask for.
 */
export function openAIChatStream(opts: ChatStreamOptions, provider: string): TransformStream<Uint8Array, Uint8Array> {
  const modelField = `"model":${JSON.stringify(opts.requestedModel)}`;
  let done = false;
  let finished = false;
  let usageSeen = false;
  const handle = (data: string, sink: StreamSink) => {
    if (done) return;
    if (data === "[DONE]") {
      done = true;
      sink.write("data: [DONE]\n\n");
      return;
    }
    const chunk = parseJsonEvent({ data }, sink);
    if (!chunk) return;
    if (chunk.error !== undefined && chunk.error !== null) {
      const message = isRecord(chunk.error) && typeof chunk.error.message === "string" ? redact(chunk.error.message) : "stream error";
      sink.fail(fail("upstream_error", `${provider}: ${message}`));
      return;
    }
    if (reportText(chunk, opts.onText)) finished = true;
    let raw = data;
    const usage = openAIUsage(chunk.usage);
    if (usage && !usageSeen) {
      usageSeen = true;
      opts.onUsage(usage);
    }
    if (usage && !opts.includeUsage) {
      // The usage-only chunk exists because the gateway asked for it: the client never sees it.
      if (Array.isArray(chunk.choices) && chunk.choices.length === 0) return;
      const { usage: _usage, ...rest } = chunk;
      raw = JSON.stringify(rest);
    }
    raw = raw.replace(MODEL_FIELD, () => modelField);
    sink.write(`data: ${raw}\n\n`);
  };
  return sseTransform({
    event(ev, sink) {
      if (ev.malformed) parseJsonEvent(ev, sink);
      // Some OpenAI-compatible servers name their error events instead of sending an `error` object.
      else if (ev.event === "error") sink.fail(fail("upstream_error", `${provider}: ${redact(ev.data.slice(0, 200)) || "stream error"}`));
      else handle(ev.data, sink);
    },
    end(sink) {
      if (done) return;
      // The content is complete once a finish_reason came; only the trailer is missing.
      if (finished) sink.write("data: [DONE]\n\n");
      else sink.fail(truncatedStream());
    },
    formatError: (f) => formatSse({ data: openAIErrorData(f) }),
    onError: opts.onError,
  });
}

export const openaiAdapter: ProviderAdapter = {
  kind: "openai",
  buildChatRequest(body: ChatCompletionRequest, target: PresetItem, { stream }) {
    return {
      url: joinUrl(target.base_url, "/chat/completions"),
      method: "POST",
      headers: jsonHeaders(stream),
      body: JSON.stringify(openAIChatBody(body, target.upstream_model ?? target.model, stream)),
    };
  },
  buildEmbeddingsRequest(body: EmbeddingsRequest, target: PresetItem) {
    return {
      url: joinUrl(target.base_url, "/embeddings"),
      method: "POST",
      headers: jsonHeaders(false),
      body: JSON.stringify({ ...body, model: target.upstream_model ?? target.model }),
    };
  },
  parseChatResponse: (json, requestedModel) => parseOpenAIChat(json, requestedModel, "openai"),
  chatStreamTransform: (opts) => openAIChatStream(opts, "openai"),
  parseEmbeddingsResponse: (json, requestedModel) => parseOpenAIEmbeddings(json, requestedModel, "openai"),
  errorMessage: (status, bodyText) => upstreamErrorMessage("openai", status, bodyText),
};
