// The headers of an answer: the request's own (trace ids, rate limits), plus the content type and the
// upstream's informational headers; and how to take them back off when a later step fails.

/** Upstream headers worth passing on (the internal channel keeps them; sanitize strips them externally). */
const FORWARDED_UPSTREAM_HEADERS: Record<string, string> = {
  "x-request-id": "x-upstream-request-id",
  "request-id": "x-upstream-request-id",
  "openai-processing-ms": "openai-processing-ms",
  "openai-organization": "openai-organization",
};

/**
 * The response's headers: the request's own (trace ids, rate limits), plus the content type and the
 * upstream's informational headers. One Headers object for the whole response: the gateway's own
 * headers are set first and nothing here has their names, so no merge is needed later.
 */
export function answerHeaders(headers: Headers, upstream: Headers, base: Readonly<Record<string, string>>): Headers {
  for (const name in base) headers.set(name, base[name]!);
  for (const from in FORWARDED_UPSTREAM_HEADERS) {
    const value = upstream.get(from);
    if (value !== null) headers.set(FORWARDED_UPSTREAM_HEADERS[from]!, value);
  }
  return headers;
}

/** The names answerHeaders() may add. */
const ANSWER_HEADER_NAMES: readonly string[] = ["content-type", "cache-control", ...new Set(Object.values(FORWARDED_UPSTREAM_HEADERS))];

/** Takes the answer's headers back off the request's own: a request that fails after the transform answers without them. */
export function dropAnswerHeaders(headers: Headers): void {
  for (const name of ANSWER_HEADER_NAMES) headers.delete(name);
}

export const JSON_HEADERS = { "content-type": "application/json" } as const;
export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } as const;
