// The error event a stream ends with when it cannot finish, in the client's wire format.
import type { IngressFormat } from "../context";
import { errorBody, type GatewayFailure } from "../errors";

const encoder = new TextEncoder();

export function errorEventFor(format: IngressFormat, failure: GatewayFailure, traceId: string): Uint8Array {
  const body = errorBody(failure, traceId);
  if (format === "anthropic") {
    const event = { type: "error", error: { type: body.error.type, message: body.error.message, code: body.error.code }, trace_id: traceId };
    return encoder.encode(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
  }
  return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
}
