// Anthropic Messages API as a client format: request -> OpenAI chat request, chat.completion -> Message.
import { z } from "zod";
import type { ChatCompletionRequest, ChatMessage } from "../api/openai-schemas";
import { outputTokens, topK } from "../api/request-bounds";
import { isRecord } from "./common";
import type { OpenAIChatCompletion } from "./types";

import { anthropicUsageOf, messageId, stopReasonOf } from "./anthropic-ingress-stream";

export { openAIStreamToAnthropic, type AnthropicStreamOptions } from "./anthropic-ingress-stream";

const TextBlockSchema = z.looseObject({ type: z.literal("text"), text: z.string() });
const ImageBlockSchema = z.looseObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [
    z.looseObject({ type: z.literal("base64"), media_type: z.string().regex(/^image\/[\w.+-]+$/), data: z.string() }),
    z.looseObject({ type: z.literal("url"), url: z.url({ protocol: /^https?$/ }) }),
  ]),
});
const ContentBlockSchema = z.discriminatedUnion("type", [
  TextBlockSchema,
  ImageBlockSchema,
  z.looseObject({ type: z.literal("tool_use"), id: z.string().min(1), name: z.string().min(1), input: z.record(z.string(), z.unknown()) }),
  z.looseObject({
    type: z.literal("tool_result"),
    tool_use_id: z.string().min(1),
    content: z.union([z.string(), z.array(z.discriminatedUnion("type", [TextBlockSchema, ImageBlockSchema]))]).optional(),
    is_error: z.boolean().optional(),
  }),
  // Extended-thinking blocks from earlier turns are accepted and dropped: other providers cannot use them.
  z.looseObject({ type: z.literal("thinking"), thinking: z.string() }),
  z.looseObject({ type: z.literal("redacted_thinking"), data: z.string() }),
]);
type ContentBlock = z.infer<typeof ContentBlockSchema>;

const ToolChoiceSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("tool"), name: z.string().min(1), disable_parallel_tool_use: z.boolean().optional() }),
  z.looseObject({ type: z.literal("none") }),
]);

/** The Anthropic Messages request the gateway accepts (custom tools only; documents and server tools are refused). */
export const AnthropicMessagesRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  max_tokens: outputTokens(),
  messages: z
    .array(z.looseObject({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(ContentBlockSchema)]) }))
    .min(1),
  system: z.union([z.string(), z.array(TextBlockSchema)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: topK().optional(),
  stream: z.boolean().optional(),
  tools: z
    .array(z.looseObject({ name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/), description: z.string().optional(), input_schema: z.record(z.string(), z.unknown()) }))
    .optional(),
  tool_choice: ToolChoiceSchema.optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});
export type AnthropicMessagesRequest = z.infer<typeof AnthropicMessagesRequestSchema>;

type TextPart = { type: "text"; text: string };
type UserPart = TextPart | { type: "image_url"; image_url: { url: string } };

function imageUrl(block: z.infer<typeof ImageBlockSchema>): string {
  const s = block.source;
  return s.type === "base64" ? `data:${s.media_type};base64,${s.data}` : s.url;
}

function toolResultText(block: Extract<ContentBlock, { type: "tool_result" }>): string {
  const text =
    typeof block.content === "string" ? block.content : (block.content ?? []).map((b) => (b.type === "text" ? b.text : "[image]")).join("");
  // OpenAI tool messages have no error flag; the model still needs to know the call failed.
  return block.is_error ? `Error: ${text}` : text;
}

function userMessages(content: string | ContentBlock[]): ChatMessage[] {
  if (typeof content === "string") return [{ role: "user", content }];
  const out: ChatMessage[] = [];
  const parts: UserPart[] = [];
  for (const block of content) {
    // Tool results must directly follow the assistant turn in OpenAI's format, so they go first.
    if (block.type === "tool_result") out.push({ role: "tool", tool_call_id: block.tool_use_id, content: toolResultText(block) });
    else if (block.type === "text") parts.push({ type: "text", text: block.text });
    else if (block.type === "image") parts.push({ type: "image_url", image_url: { url: imageUrl(block) } });
  }
  if (parts.length > 0) out.push({ role: "user", content: parts });
  return out;
}

function assistantMessage(content: string | ContentBlock[]): ChatMessage {
  if (typeof content === "string") return { role: "assistant", content };
  let text = "";
  const toolCalls: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }> = [];
  for (const block of content) {
    if (block.type === "text") text += block.text;
    else if (block.type === "tool_use") toolCalls.push({ id: block.id, type: "function", function: { name: block.name, arguments: JSON.stringify(block.input) } });
  }
  if (toolCalls.length === 0) return { role: "assistant", content: text };
  return { role: "assistant", content: text || null, tool_calls: toolCalls };
}

function toolChoice(choice: AnthropicMessagesRequest["tool_choice"]): Pick<ChatCompletionRequest, "tool_choice"> & { parallel_tool_calls?: boolean } {
  if (!choice) return {};
  const parallel = "disable_parallel_tool_use" in choice && choice.disable_parallel_tool_use === true ? { parallel_tool_calls: false } : {};
  switch (choice.type) {
    case "auto":
      return { tool_choice: "auto", ...parallel };
    case "any":
      return { tool_choice: "required", ...parallel };
    case "tool":
      return { tool_choice: { type: "function", function: { name: choice.name } }, ...parallel };
    case "none":
      return { tool_choice: "none" };
  }
}

/** Anthropic request -> the gateway's OpenAI chat request (streams always ask for usage, which Anthropic clients get). */
export function anthropicRequestToOpenAI(req: AnthropicMessagesRequest): ChatCompletionRequest {
  const messages: ChatMessage[] = [];
  // One system message per block keeps the blocks apart on the way back to an Anthropic upstream.
  if (typeof req.system === "string") messages.push({ role: "system", content: req.system });
  else for (const block of req.system ?? []) messages.push({ role: "system", content: block.text });
  for (const m of req.messages) {
    if (m.role === "user") messages.push(...userMessages(m.content));
    else messages.push(assistantMessage(m.content));
  }
  const out: ChatCompletionRequest = { model: req.model, messages, max_completion_tokens: req.max_tokens };
  if (req.stop_sequences?.length) out.stop = req.stop_sequences;
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.top_k !== undefined) out.top_k = req.top_k;
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.tools?.length) {
    out.tools = req.tools.map((t) => ({
      type: "function" as const,
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema },
    }));
    Object.assign(out, toolChoice(req.tool_choice));
  }
  if (req.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

export function parseToolInput(args: string | undefined): Record<string, unknown> {
  try {
    const input: unknown = JSON.parse(args || "{}");
    return isRecord(input) ? input : {};
  } catch {
    return {}; // e.g. arguments cut off by max_tokens; Anthropic requires an object
  }
}

export function openAIResponseToAnthropic(completion: OpenAIChatCompletion, requestedModel: string): Record<string, unknown> {
  const choice = completion.choices[0];
  const content: Record<string, unknown>[] = [];
  const message = choice?.message;
  if (message?.content) content.push({ type: "text", text: message.content });
  if (message?.refusal) content.push({ type: "text", text: message.refusal });
  for (const call of message?.tool_calls ?? []) {
    content.push({ type: "tool_use", id: call.id, name: call.function.name, input: parseToolInput(call.function.arguments) });
  }
  return {
    id: messageId(completion.id),
    type: "message",
    role: "assistant",
    model: requestedModel,
    content,
    stop_reason: message?.refusal ? "refusal" : stopReasonOf(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsageOf(completion.usage),
  };
}
