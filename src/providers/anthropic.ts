// Anthropic Messages API as an upstream: OpenAI chat request -> Messages request, Message -> chat.completion.
import type { ChatCompletionRequest, ChatMessage } from "../api/openai-schemas";
import type { PresetItem } from "../config/schemas";
import { err, fail, ok, type Result } from "../errors";
import { isRecord, joinUrl, jsonHeaders, upstreamErrorMessage } from "./common";
import { DEFAULT_FORWARDED_FIELDS } from "./request-fields";
import { outputCap } from "./output-cap";
import { anthropicChatStream, anthropicUsage, finishReasonOf, openAIUsageOf } from "./anthropic-stream";
import type { OpenAIChatCompletion, OpenAIToolCall, ParsedAnswer, ProviderAdapter, UpstreamHttpRequest } from "./types";

export const ANTHROPIC_VERSION = "2023-06-01";

type Block = Record<string, unknown>;
interface AnthropicMessage {
  role: "user" | "assistant";
  content: Block[];
}
type Content = ChatMessage["content"];

function textParts(content: Content): string[] {
  if (content === null || content === undefined) return [];
  if (typeof content === "string") return [content];
  return content.flatMap((p) => (p.type === "text" && typeof p.text === "string" ? [p.text] : []));
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(url: string): Result<Block> {
  const m = DATA_URL.exec(url);
  if (m) return ok({ type: "image", source: { type: "base64", media_type: m[1], data: m[2] } });
  if (/^https?:\/\//i.test(url)) return ok({ type: "image", source: { type: "url", url } });
  return err(fail("invalid_request", "image_url must be an https URL or a base64 data URL", { param: "messages" }));
}

function contentBlocks(content: Content): Result<Block[]> {
  if (content === null || content === undefined) return ok([]);
  if (typeof content === "string") return ok(content ? [{ type: "text", text: content }] : []);
  const blocks: Block[] = [];
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") {
      if (part.text) blocks.push({ type: "text", text: part.text });
    } else if (part.type === "image_url" && isRecord(part.image_url) && typeof part.image_url.url === "string") {
      const block = imageBlock(part.image_url.url);
      if (!block.ok) return err(block.failure);
      blocks.push(block.value);
    } else {
      return err(fail("invalid_request", `content part type "${part.type}" is not supported by this model`, { param: "messages" }));
    }
  }
  return ok(blocks);
}

function toolUseBlocks(calls: readonly { id: string; function: { name: string; arguments: string } }[]): Result<Block[]> {
  const blocks: Block[] = [];
  for (const call of calls) {
    let input: unknown;
    try {
      input = call.function.arguments.trim() === "" ? {} : JSON.parse(call.function.arguments);
    } catch {
      return err(fail("invalid_request", `tool call ${call.id} has arguments that are not valid JSON`, { param: "messages" }));
    }
    blocks.push({ type: "tool_use", id: call.id, name: call.function.name, input: isRecord(input) ? input : {} });
  }
  return ok(blocks);
}

/** OpenAI messages -> Anthropic system + alternating turns (consecutive same-role turns are merged). */
export function toAnthropicMessages(messages: readonly ChatMessage[]): Result<{ system: string[]; messages: AnthropicMessage[] }> {
  const system: string[] = [];
  const out: AnthropicMessage[] = [];
  const push = (role: AnthropicMessage["role"], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = out[out.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  };
  for (const m of messages) {
    if (m.role === "system" || m.role === "developer") {
      system.push(...textParts(m.content).filter((t) => t !== ""));
    } else if (m.role === "tool") {
      push("user", [{ type: "tool_result", tool_use_id: m.tool_call_id, content: textParts(m.content).join("") }]);
    } else {
      const blocks = contentBlocks(m.content);
      if (!blocks.ok) return err(blocks.failure);
      if (m.role === "assistant" && m.tool_calls?.length) {
        const uses = toolUseBlocks(m.tool_calls);
        if (!uses.ok) return err(uses.failure);
        blocks.value.push(...uses.value);
      }
      push(m.role, blocks.value);
    }
  }
  return ok({ system, messages: out });
}

function toolChoice(choice: unknown, parallel: unknown): Block | undefined {
  let out: Block | undefined;
  if (choice === "none") return { type: "none" };
  if (choice === "required") out = { type: "any" };
  else if (isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === "string") out = { type: "tool", name: choice.function.name };
  else if (choice === "auto" || parallel === false) out = { type: "auto" };
  if (out && parallel === false) out.disable_parallel_tool_use = true;
  return out;
}

/**
 * `maxTokens`: the cap Anthropic requires (output-cap.ts: the client's, else the preset's max_output_tokens).
 * `extras`: the preset's extra_fields (docs/api/presets.md), copied into the Messages body as they are
 * (thinking, service_tier, metadata, …); never over a field the gateway builds itself.
 */
export function buildAnthropicBody(body: ChatCompletionRequest, model: string, stream: boolean, maxTokens: number, extras: readonly string[] = []): Result<Record<string, unknown>> {
  if (typeof body.n === "number" && body.n > 1) return err(fail("invalid_request", "n > 1 is not supported by this model", { param: "n" }));
  const messages = toAnthropicMessages(body.messages);
  if (!messages.ok) return err(messages.failure);
  const converted = messages.value;
  const out: Record<string, unknown> = {
    model,
    max_tokens: maxTokens,
    messages: converted.messages,
  };
  const [first, ...more] = converted.system;
  if (first !== undefined) out.system = more.length === 0 ? first : converted.system.map((text) => ({ type: "text", text }));
  if (body.stop !== undefined && body.stop !== null) out.stop_sequences = typeof body.stop === "string" ? [body.stop] : body.stop;
  if (typeof body.temperature === "number") out.temperature = body.temperature;
  if (typeof body.top_p === "number") out.top_p = body.top_p;
  if (typeof body.top_k === "number") out.top_k = body.top_k;
  if (body.user) out.metadata = { user_id: body.user };
  if (body.tools?.length) {
    out.tools = body.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: "object", properties: {} },
    }));
    const choice = toolChoice(body.tool_choice, body.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  if (stream) out.stream = true;
  for (const field of extras) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && !(field in out) && !DEFAULT_FORWARDED_FIELDS.anthropic.chat.includes(field)) out[field] = value;
  }
  return ok(out);
}

export function parseAnthropicMessage(json: unknown, requestedModel: string): Result<ParsedAnswer<OpenAIChatCompletion>> {
  if (!isRecord(json)) return err(fail("upstream_bad_response", "anthropic response is not a JSON object"));
  if (json.type === "error") return err(fail("upstream_error", upstreamErrorMessage("anthropic", 200, JSON.stringify(json))));
  if (!Array.isArray(json.content)) return err(fail("upstream_bad_response", "anthropic response has no content"));
  let text = "";
  const toolCalls: OpenAIToolCall[] = [];
  for (const block of json.content) {
    if (!isRecord(block)) continue;
    if (block.type === "text" && typeof block.text === "string") text += block.text;
    else if (block.type === "tool_use" && typeof block.id === "string" && typeof block.name === "string") {
      toolCalls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const usage = anthropicUsage(json.usage);
  const message: OpenAIChatCompletion["choices"][number]["message"] = { role: "assistant", content: text || (toolCalls.length ? null : ""), refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  return ok({
    body: {
      id: typeof json.id === "string" ? json.id : "msg_unknown",
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: requestedModel,
      choices: [{ index: 0, message, finish_reason: finishReasonOf(json.stop_reason), logprobs: null }],
      usage: openAIUsageOf(usage, json.usage),
    },
    usage,
  });
}

export const anthropicAdapter: ProviderAdapter = {
  kind: "anthropic",
  buildChatRequest(body: ChatCompletionRequest, target: PresetItem, { stream }): Result<UpstreamHttpRequest> {
    const out = buildAnthropicBody(body, target.upstream_model ?? target.model, stream, outputCap(body, target), target.extra_fields);
    if (!out.ok) return err(out.failure);
    return ok({
      url: joinUrl(target.base_url, "/messages"),
      method: "POST",
      headers: { ...jsonHeaders(stream), "anthropic-version": target.api_version ?? ANTHROPIC_VERSION },
      body: JSON.stringify(out.value),
    });
  },
  parseChatResponse: parseAnthropicMessage,
  chatStream: anthropicChatStream,
  errorMessage: (status, bodyText) => upstreamErrorMessage("anthropic", status, bodyText),
};
