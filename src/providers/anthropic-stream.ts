// Anthropic Messages stream events -> OpenAI chat.completion.chunk SSE (text, tool calls, finish, usage).
import { fail, type ErrorKind } from "../errors";
import { isRecord, num, parseJsonEvent, usageDetails, withDetails, redact, truncatedStream } from "./common";
import { sseTranslator, type SseTranslator, type StreamSink } from "./stream-translator";
import type { ChatStreamOptions, FinishReason, OpenAIUsageWithDetails, TokenUsage } from "./types";

const FINISH: Record<string, FinishReason> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

export function finishReasonOf(stopReason: unknown): FinishReason {
  return (typeof stopReason === "string" && FINISH[stopReason]) || "stop";
}

/**
 * Cached prompt tokens are prompt tokens too (as in OpenAI's prompt_tokens); cache reads and writes, web
 * searches and the tier are kept as details, priced on their own (src/billing/pricing.ts).
 */
export function anthropicUsage(u: unknown): TokenUsage {
  if (!isRecord(u)) return { inputTokens: 0, outputTokens: 0 };
  const tools = isRecord(u.server_tool_use) ? u.server_tool_use : {};
  return withDetails(
    { inputTokens: num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens), outputTokens: num(u.output_tokens) },
    usageDetails({
      cachedInputTokens: num(u.cache_read_input_tokens),
      cacheWriteInputTokens: num(u.cache_creation_input_tokens),
      webSearchCalls: num(tools.web_search_requests),
      serviceTier: typeof u.service_tier === "string" ? u.service_tier.slice(0, 32) : undefined,
    }),
  );
}

/** TokenUsage -> OpenAI usage, keeping Anthropic's cache reads visible as cached prompt tokens. */
export function openAIUsageOf(usage: TokenUsage, raw: unknown): OpenAIUsageWithDetails {
  const out: OpenAIUsageWithDetails = { prompt_tokens: usage.inputTokens, completion_tokens: usage.outputTokens, total_tokens: usage.inputTokens + usage.outputTokens };
  const cached = isRecord(raw) ? num(raw.cache_read_input_tokens) : 0;
  if (cached > 0) out.prompt_tokens_details = { cached_tokens: cached };
  return out;
}

const ERROR_KIND: Record<string, ErrorKind> = {
  rate_limit_error: "upstream_rate_limited",
  overloaded_error: "upstream_error",
  timeout_error: "upstream_timeout",
};

export function anthropicChatStream(opts: ChatStreamOptions): SseTranslator {
  const created = Math.floor(Date.now() / 1000);
  const model = JSON.stringify(opts.requestedModel);
  let prefix = "";
  let started = false;
  let done = false;
  let finish: FinishReason | undefined;
  const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  let rawUsage: Record<string, unknown> = {};
  /** Anthropic content-block index -> OpenAI tool_calls index (tool calls are numbered on their own). */
  const toolIndex = new Map<number, number>();

  const head = (id: string) => `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${model},`;
  const chunk = (sink: StreamSink, delta: object, finishReason: FinishReason | null = null) =>
    sink.write(`${prefix}"choices":[{"index":0,"delta":${JSON.stringify(delta)},"logprobs":null,"finish_reason":${JSON.stringify(finishReason)}}]}\n\n`);

  const complete = (sink: StreamSink) => {
    done = true;
    opts.onUsage({ ...usage });
    if (opts.includeUsage) {
      sink.write(`${prefix}"choices":[],"usage":${JSON.stringify(openAIUsageOf(usage, rawUsage))}}\n\n`);
    }
    sink.write("data: [DONE]\n\n");
  };

  const onEvent = (ev: Record<string, unknown>, sink: StreamSink) => {
    switch (ev.type) {
      case "message_start": {
        const message = isRecord(ev.message) ? ev.message : {};
        prefix = head(typeof message.id === "string" ? message.id : "msg_unknown");
        Object.assign(usage, anthropicUsage(message.usage));
        if (isRecord(message.usage)) rawUsage = message.usage;
        started = true;
        chunk(sink, { role: "assistant", content: "" });
        return;
      }
      case "content_block_start": {
        const block = isRecord(ev.content_block) ? ev.content_block : {};
        if (block.type === "tool_use" && typeof block.name === "string") {
          const index = toolIndex.size;
          toolIndex.set(num(ev.index), index);
          opts.onText(block.name);
          chunk(sink, { tool_calls: [{ index, id: block.id, type: "function", function: { name: block.name, arguments: "" } }] });
        } else if (block.type === "text" && typeof block.text === "string" && block.text) {
          opts.onText(block.text);
          chunk(sink, { content: block.text });
        }
        return;
      }
      case "content_block_delta": {
        const delta = isRecord(ev.delta) ? ev.delta : {};
        if (delta.type === "text_delta" && typeof delta.text === "string") {
          opts.onText(delta.text);
          chunk(sink, { content: delta.text });
        } else if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
          const index = toolIndex.get(num(ev.index));
          if (index === undefined || delta.partial_json === "") return;
          opts.onText(delta.partial_json);
          chunk(sink, { tool_calls: [{ index, function: { arguments: delta.partial_json } }] });
        } else if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
          opts.onText(delta.thinking); // billed as output, not shown in the OpenAI format
        }
        return;
      }
      case "message_delta": {
        const delta = isRecord(ev.delta) ? ev.delta : {};
        // message_delta usage is cumulative; input fields appear only on newer API versions. Server tool
        // use (web searches) happens during the turn, so its count arrives here, not in message_start.
        if (isRecord(ev.usage)) {
          const u = anthropicUsage(ev.usage);
          usage.outputTokens = u.outputTokens;
          if (u.inputTokens > 0) {
            usage.inputTokens = u.inputTokens;
            rawUsage = ev.usage;
            // The input parts (cache reads and writes) go with the input count they belong to.
            if (u.details) usage.details = { ...usage.details, ...u.details };
          } else if (u.details?.webSearchCalls !== undefined) {
            usage.details = { ...usage.details, webSearchCalls: u.details.webSearchCalls };
          }
        }
        if (delta.stop_reason !== undefined && delta.stop_reason !== null) {
          finish = finishReasonOf(delta.stop_reason);
          chunk(sink, {}, finish);
        }
        return;
      }
      case "message_stop":
        complete(sink);
        return;
      case "error": {
        const err = isRecord(ev.error) ? ev.error : {};
        const type = typeof err.type === "string" ? err.type : "api_error";
        const message = typeof err.message === "string" ? redact(err.message) : "stream error";
        sink.fail(fail(ERROR_KIND[type] ?? "upstream_error", `anthropic: ${message}`));
        return;
      }
      default:
        return; // ping, content_block_stop and event types added later carry nothing for OpenAI clients
    }
  };

  return sseTranslator({
    event(ev, sink) {
      if (done) return;
      const json = parseJsonEvent(ev, sink);
      if (!json) return;
      if (!started && json.type !== "message_start" && json.type !== "ping" && json.type !== "error") {
        sink.fail(fail("upstream_bad_response", `anthropic stream began with ${String(json.type)} instead of message_start`));
        return;
      }
      onEvent(json, sink);
    },
    end(sink) {
      if (done) return;
      if (finish !== undefined) complete(sink); // only message_stop was lost; the content is whole
      else sink.fail(truncatedStream());
    },
    onError: opts.onError,
  });
}
