// zod schemas of the OpenAI-compatible request bodies the gateway accepts (the gateway's
// internal lingua franca). Known fields are checked; unknown ones are kept here, and which of them reach
// an upstream is the routed preset's decision (src/providers/request-fields.ts).
import { z } from "zod";
import { choices, dimensions, logitBias, outputTokens, penalty, seed, topK, topLogprobs } from "./request-bounds";

const TextPartSchema = z.looseObject({ type: z.literal("text"), text: z.string() });
const ImagePartSchema = z.looseObject({ type: z.literal("image_url"), image_url: z.looseObject({ url: z.string() }) });
const ContentPartSchema = z.union([TextPartSchema, ImagePartSchema, z.looseObject({ type: z.string() })]);

export const ToolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const ChatMessageSchema = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content: z.union([z.string(), z.array(TextPartSchema)]), name: z.string().optional() }),
  z.looseObject({ role: z.literal("developer"), content: z.union([z.string(), z.array(TextPartSchema)]), name: z.string().optional() }),
  z.looseObject({ role: z.literal("user"), content: z.union([z.string(), z.array(ContentPartSchema)]), name: z.string().optional() }),
  z.looseObject({
    role: z.literal("assistant"),
    content: z.union([z.string(), z.array(TextPartSchema), z.null()]).optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    name: z.string().optional(),
  }),
  z.looseObject({ role: z.literal("tool"), content: z.union([z.string(), z.array(TextPartSchema)]), tool_call_id: z.string() }),
]);
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ToolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1).max(64),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const ChatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  /** May be empty only when a template supplies the messages. */
  messages: z.array(ChatMessageSchema),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  // Numbers are bounded to what providers accept (request-bounds.ts): the reservation is computed from them.
  max_tokens: outputTokens().nullish(),
  max_completion_tokens: outputTokens().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: choices().nullish(),
  presence_penalty: penalty().nullish(),
  frequency_penalty: penalty().nullish(),
  top_logprobs: topLogprobs().nullish(),
  logit_bias: logitBias().nullish(),
  seed: seed().nullish(),
  /** Not OpenAI's: the Anthropic ingress carries it (and an Anthropic upstream takes it). */
  top_k: topK().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  tools: z.array(ToolSchema).optional(),
  tool_choice: z.unknown().optional(),
  user: z.string().optional(),
  /** Internal channel only: render a stored prompt template into the messages. */
  template: z.looseObject({ name: z.string().min(1), version: z.number().int().positive().optional() }).optional(),
  variables: z.record(z.string(), z.unknown()).optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const EmbeddingsRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1).max(2048),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1).max(2048),
  ]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: dimensions().optional(),
  user: z.string().optional(),
});
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequestSchema>;

/** Token usage as OpenAI reports it. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
