// The Anthropic Messages ingress: converts the client's Messages request into the gateway's OpenAI
// form before the pipeline runs; the answer is converted back by transform_response.
import type { ParsedRequest } from "../context";
import { fail, type GatewayFailure } from "../errors";
import { AnthropicMessagesRequestSchema, anthropicRequestToOpenAI } from "../providers/anthropic-ingress";
import { describeZodIssue } from "../steps/validate-request";

const decoder = new TextDecoder();

export function convertAnthropicIngress(rawBody: Uint8Array): ParsedRequest | GatewayFailure {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(rawBody));
  } catch {
    return fail("invalid_json", "request body is not valid JSON");
  }
  const result = AnthropicMessagesRequestSchema.safeParse(json);
  if (!result.success) {
    const issue = describeZodIssue(result.error.issues[0]!);
    return fail("invalid_request", issue.message, { param: issue.param });
  }
  const body = anthropicRequestToOpenAI(result.data);
  return { capability: "chat", model: body.model, stream: body.stream === true, body };
}
