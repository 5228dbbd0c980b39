// The error event a stream ends with when it cannot finish, in the client's wire format: OpenAI's error
// body, or Anthropic's `error` event (its error body, src/errors.ts) for Anthropic clients.
import type { IngressFormat } from "../context";
import { anthropicErrorBody, errorBody, type GatewayFailure } from "../errors";

const encoder = new TextEncoder();

export function errorEventFor(format: IngressFormat, failure: GatewayFailure, traceId: string, requestId: string | null = null): Uint8Array {
  if (format === "anthropic") {
    const event = { ...anthropicErrorBody(failure, requestId), trace_id: traceId };
    return encoder.encode(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
  }
  return encoder.encode(`data: ${JSON.stringify(errorBody(failure, traceId))}\n\n`);
}
