// The provider adapter contract and the OpenAI wire shapes the gateway answers with.
import type { ChatCompletionRequest, EmbeddingsRequest, OpenAIUsage } from "../api/openai-schemas";
import type { PresetItem, ProviderKind } from "../config/schemas";
import type { GatewayFailure, Result } from "../errors";
import type { SseTranslator } from "./stream-translator";

/** An upstream call, fully described but without credentials (see credentials.ts). */
export interface UpstreamHttpRequest {
  url: string;
  method: "POST" | "GET";
  headers: Record<string, string>;
  body?: string;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** The parts the upstream reported that are priced on their own (src/billing/pricing.ts); absent when none. */
  details?: UsageDetails;
}

/** Parts of a usage report; token parts are counted inside inputTokens / outputTokens, search calls are not. */
export interface UsageDetails {
  /** Prompt tokens read from the provider's prompt cache. */
  cachedInputTokens?: number;
  /** Prompt tokens written to the prompt cache (Anthropic). */
  cacheWriteInputTokens?: number;
  audioInputTokens?: number;
  /** Hidden reasoning tokens, part of the output count. */
  reasoningTokens?: number;
  audioOutputTokens?: number;
  webSearchCalls?: number;
  /** The service tier the upstream says served the request ("default", "priority", "flex", "standard", …). */
  serviceTier?: string;
}

/** OpenAI usage; `cached_tokens` are prompt tokens served from a prompt cache (already counted in prompt_tokens). */
export type OpenAIUsageWithDetails = OpenAIUsage & { prompt_tokens_details?: { cached_tokens?: number } };

export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

export interface OpenAIToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface OpenAIChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: "assistant"; content: string | null; tool_calls?: OpenAIToolCall[]; refusal?: string | null };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsageWithDetails;
  system_fingerprint?: string;
}

export interface OpenAIToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function?: { name?: string; arguments?: string };
}

export interface OpenAIChatChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: "assistant"; content?: string | null; tool_calls?: OpenAIToolCallDelta[]; refusal?: string | null };
    finish_reason: FinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsageWithDetails | null;
}

export interface OpenAIEmbeddingsResponse {
  object: "list";
  data: Array<{ object: "embedding"; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ChatStreamOptions {
  /** The model name the client asked for; every chunk carries it. */
  requestedModel: string;
  /** The client asked for `stream_options.include_usage`: keep (or synthesize) the usage chunk. */
  includeUsage: boolean;
  /** Called once when the upstream reports usage. */
  onUsage(u: TokenUsage): void;
  /** Generated text (content, tool names and arguments), so the caller can count tokens when no usage comes. */
  onText(t: string): void;
  /** The upstream stream failed (error event, malformed or cut short); the translation stops there. */
  onError?(f: GatewayFailure): void;
  /**
   * Members removed from every event wherever they appear (the external channel's sanitizer list).
   * Read as the stream runs: the sanitize step, which runs after the stream is built, fills it in.
   */
  stripFields?: StripFields;
}

export interface StripFields {
  fields: readonly string[];
}

/** An upstream answer in the gateway's OpenAI shape, with the usage it reported (when it did). */
export interface ParsedAnswer<B> {
  body: B;
  usage?: TokenUsage;
}

export interface ProviderAdapter {
  kind: ProviderKind;
  /** Request to send upstream, without credentials; a failure when the request cannot be expressed there. */
  buildChatRequest(body: ChatCompletionRequest, target: PresetItem, opts: { stream: boolean }): Result<UpstreamHttpRequest>;
  buildEmbeddingsRequest?(body: EmbeddingsRequest, target: PresetItem): Result<UpstreamHttpRequest>;
  /** Upstream JSON body -> OpenAI chat.completion object (model = the client's requested model). */
  parseChatResponse(json: unknown, requestedModel: string): Result<ParsedAnswer<OpenAIChatCompletion>>;
  /** Upstream SSE -> OpenAI chat.completion.chunk SSE, reporting usage when seen. */
  chatStream(opts: ChatStreamOptions): SseTranslator;
  parseEmbeddingsResponse?(json: unknown, requestedModel: string): Result<ParsedAnswer<OpenAIEmbeddingsResponse>>;
  /** Upstream error body -> message for the client (never echoes credentials). */
  errorMessage(status: number, bodyText: string): string;
}

