// Trace ids: honour an incoming W3C traceparent or x-request-id, otherwise mint one.

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** 32 lowercase hex characters (a W3C trace id); the native UUID generator is the cheapest random source. */
export function newTraceId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

export function traceIdFor(headers: Headers): string {
  const parent = TRACEPARENT.exec(headers.get("traceparent")?.trim().toLowerCase() ?? "");
  if (parent && parent[1] !== "0".repeat(32)) return parent[1]!;
  const requestId = headers.get("x-request-id")?.trim();
  if (requestId && REQUEST_ID.test(requestId)) return requestId;
  return newTraceId();
}
