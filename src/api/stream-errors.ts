// The one writer of the error event a stream ends with when it cannot finish, in the client's wire
// format, with the request's trace id (docs/api/errors.md): OpenAI's error body, or Anthropic's `error`
// event (its error body, src/errors.ts) for Anthropic clients; whether the upstream broke, went idle or
// grew too large (src/upstream/metered-stream.ts) or its events were wrong (the stream translators).
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
