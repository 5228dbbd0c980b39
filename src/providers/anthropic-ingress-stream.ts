// OpenAI chat.completion.chunk SSE -> the Anthropic Messages stream event sequence, for Anthropic clients.
import { ERROR_KINDS, fail, type ErrorKind, type GatewayFailure } from "../errors";
import { isRecord, parseJsonEvent, truncatedStream } from "./common";
import { sseTranslator, type SseTranslator, type StreamSink } from "./stream-translator";
import type { FinishReason } from "./types";

export interface AnthropicStreamOptions {
  requestedModel: string;
  /** The upstream failed mid-stream; the translation stops (the client gets an Anthropic `error` event). */
  onError?(f: GatewayFailure): void;
}

const STOP_REASON: Record<FinishReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

export function stopReasonOf(finish: unknown): string {
  return (typeof finish === "string" && STOP_REASON[finish as FinishReason]) || "end_turn";
}

/** OpenAI usage -> Anthropic usage, where input_tokens excludes prompt tokens read from the cache. */
export function anthropicUsageOf(u: unknown): { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number } {
  if (!isRecord(u)) return { input_tokens: 0, output_tokens: 0 };
  const prompt = typeof u.prompt_tokens === "number" ? u.prompt_tokens : 0;
  const output = typeof u.completion_tokens === "number" ? u.completion_tokens : 0;
  const details = u.prompt_tokens_details;
  const cached = isRecord(details) && typeof details.cached_tokens === "number" ? details.cached_tokens : 0;
  if (cached <= 0) return { input_tokens: prompt, output_tokens: output };
  return { input_tokens: Math.max(0, prompt - cached), output_tokens: output, cache_read_input_tokens: cached };
}

export function messageId(id: unknown): string {
  if (typeof id !== "string" || id === "") return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
  return id.startsWith("msg_") ? id : `msg_${id}`;
}

const send = (sink: StreamSink, type: string, data: object) => sink.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);

export function openAIStreamToAnthropic(opts: AnthropicStreamOptions): SseTranslator {
  let started = false;
  let done = false;
  let finish: unknown;
  let usage: ReturnType<typeof anthropicUsageOf> = { input_tokens: 0, output_tokens: 0 };
  let nextBlock = 0;
  let open: { index: number; kind: "text" | "tool" } | undefined;
  /** OpenAI tool_calls index -> Anthropic content-block index. */
  const toolBlocks = new Map<number, number>();

  const start = (sink: StreamSink, id: unknown) => {
    if (started) return;
    started = true;
    const message = { id: messageId(id), type: "message", role: "assistant", model: opts.requestedModel, content: [], stop_reason: null, stop_sequence: null, usage };
    send(sink, "message_start", { message });
  };
  const close = (sink: StreamSink) => {
    if (open) send(sink, "content_block_stop", { index: open.index });
    open = undefined;
  };
  const openBlock = (sink: StreamSink, kind: "text" | "tool", contentBlock: object): number => {
    close(sink);
    open = { index: nextBlock++, kind };
    send(sink, "content_block_start", { index: open.index, content_block: contentBlock });
    return open.index;
  };

  const onText = (sink: StreamSink, text: string) => {
    const index = open?.kind === "text" ? open.index : openBlock(sink, "text", { type: "text", text: "" });
    send(sink, "content_block_delta", { index, delta: { type: "text_delta", text } });
  };

  const onToolCall = (sink: StreamSink, call: Record<string, unknown>) => {
    const key = typeof call.index === "number" ? call.index : 0;
    const fn = isRecord(call.function) ? call.function : {};
    let index = toolBlocks.get(key);
    if (index === undefined) {
      const id = typeof call.id === "string" ? call.id : `toolu_${crypto.randomUUID().replaceAll("-", "")}`;
      index = openBlock(sink, "tool", { type: "tool_use", id, name: typeof fn.name === "string" ? fn.name : "", input: {} });
      toolBlocks.set(key, index);
    }
    if (typeof fn.arguments === "string" && fn.arguments !== "") {
      send(sink, "content_block_delta", { index, delta: { type: "input_json_delta", partial_json: fn.arguments } });
    }
  };

  const complete = (sink: StreamSink) => {
    start(sink, undefined);
    close(sink);
    done = true;
    send(sink, "message_delta", { delta: { stop_reason: stopReasonOf(finish), stop_sequence: null }, usage });
    send(sink, "message_stop", {});
  };

  const onChunk = (chunk: Record<string, unknown>, sink: StreamSink) => {
    if (chunk.error !== undefined && chunk.error !== null) {
      const err = isRecord(chunk.error) ? chunk.error : {};
      const kind = typeof err.code === "string" && err.code in ERROR_KINDS ? (err.code as ErrorKind) : "upstream_error";
      sink.fail(fail(kind, typeof err.message === "string" ? err.message : "upstream stream failed"));
      return;
    }
    start(sink, chunk.id);
    if (isRecord(chunk.usage)) usage = anthropicUsageOf(chunk.usage);
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find((c) => isRecord(c) && (c.index ?? 0) === 0) : undefined;
    if (!isRecord(choice)) return;
    const delta = isRecord(choice.delta) ? choice.delta : {};
    if (typeof delta.content === "string" && delta.content !== "") onText(sink, delta.content);
    if (typeof delta.refusal === "string" && delta.refusal !== "") onText(sink, delta.refusal);
    if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) if (isRecord(call)) onToolCall(sink, call);
    if (typeof choice.finish_reason === "string") {
      finish = delta.refusal ? "content_filter" : choice.finish_reason;
      close(sink);
    }
  };

  return sseTranslator({
    event(ev, sink) {
      if (done) return;
      if (!ev.malformed && ev.data === "[DONE]") return complete(sink);
      const chunk = parseJsonEvent(ev, sink);
      if (chunk) onChunk(chunk, sink);
    },
    end(sink) {
      if (done) return;
      if (finish !== undefined) complete(sink);
      else sink.fail(truncatedStream());
    },
    onError: opts.onError,
  });
}
