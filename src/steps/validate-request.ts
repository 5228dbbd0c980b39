// Step validate_request: parses the body as JSON, checks it with zod (OpenAI or Anthropic Messages
// shape, by ingress), and extracts the model.
import { ChatCompletionRequestSchema, EmbeddingsRequestSchema } from "../api/openai-schemas";
import type { GatewayContext } from "../context";
import { fail } from "../errors";
import { AnthropicMessagesRequestSchema, anthropicRequestToOpenAI } from "../providers/anthropic-ingress";
import { failed } from "../pipeline/step";
import type { GatewayStep } from "./types";

const decoder = new TextDecoder();

export function describeZodIssue(issue: { path: PropertyKey[]; message: string }): { message: string; param: string | null } {
  const param = issue.path.length > 0 ? issue.path.map(String).join(".") : null;
  return { message: param ? `${param}: ${issue.message}` : issue.message, param };
}

export const validateRequest: GatewayStep = {
  name: "validate_request",
  onFailure: "abort",
  timeoutMs: 1_000,
  retries: 0,
  run(ctx: GatewayContext) {
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(ctx.rawBody));
    } catch {
      return failed(fail("invalid_json", "request body is not valid JSON"));
    }
    if (ctx.ingress === "anthropic") {
      // The Anthropic Messages ingress: checked with its own schema, then carried in the gateway's OpenAI form.
      const result = AnthropicMessagesRequestSchema.safeParse(json);
      if (!result.success) return failed(fail("invalid_request", ...spread(describeZodIssue(result.error.issues[0]!))));
      const body = anthropicRequestToOpenAI(result.data);
      ctx.parsed = { capability: "chat", model: body.model, stream: body.stream === true, body };
      return;
    }
    if (ctx.capability === "chat") {
      const result = ChatCompletionRequestSchema.safeParse(json);
      if (!result.success) return failed(fail("invalid_request", ...spread(describeZodIssue(result.error.issues[0]!))));
      const body = result.data;
      if (body.template && ctx.channel !== "internal") return failed(fail("invalid_request", "templates are only available on the internal channel", { param: "template" }));
      if (body.messages.length === 0 && !body.template) return failed(fail("invalid_request", "messages: must contain at least one message", { param: "messages" }));
      ctx.parsed = { capability: "chat", model: body.model, stream: body.stream === true, body };
      return;
    }
    const result = EmbeddingsRequestSchema.safeParse(json);
    if (!result.success) return failed(fail("invalid_request", ...spread(describeZodIssue(result.error.issues[0]!))));
    ctx.parsed = { capability: "embeddings", model: result.data.model, stream: false, body: result.data };
  },
};

function spread(d: { message: string; param: string | null }): [string, { param: string | null }] {
  return [d.message, { param: d.param }];
}
