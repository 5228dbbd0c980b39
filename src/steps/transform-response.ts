// Step transform_response: turns the upstream's answer into the client's wire format (OpenAI or
// Anthropic), non-streamed or as a live stream, metering token usage on the way.
import type { GatewayContext } from "../context";
import { UsageMeter } from "../billing/usage-meter";
import { promptText } from "../billing/tokens";
import { fail, type GatewayFailure } from "../errors";
import type { GatewayStep } from "./types";
import { adapterFor } from "../providers";
import { openAIResponseToAnthropic, openAIStreamToAnthropic } from "../providers/anthropic-ingress";
import { meteredStream } from "../upstream/metered-stream";
import { errorEventFor } from "../api/stream-errors";

const decoder = new TextDecoder();

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
function responseHeaders(ctx: GatewayContext, upstream: Headers, base: Readonly<Record<string, string>>): Headers {
  const headers = ctx.responseHeaders;
  for (const name in base) headers.set(name, base[name]!);
  for (const from in FORWARDED_UPSTREAM_HEADERS) {
    const value = upstream.get(from);
    if (value !== null) headers.set(FORWARDED_UPSTREAM_HEADERS[from]!, value);
  }
  return headers;
}

/** The names responseHeaders() may add. */
const ANSWER_HEADER_NAMES: readonly string[] = ["content-type", "cache-control", ...new Set(Object.values(FORWARDED_UPSTREAM_HEADERS))];

/** Takes the answer's headers back off the request's own: a request that fails after the transform answers without them. */
export function dropAnswerHeaders(headers: Headers): void {
  for (const name of ANSWER_HEADER_NAMES) headers.delete(name);
}

const JSON_HEADERS = { "content-type": "application/json" } as const;
export const SSE_HEADERS = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } as const;

function transformBuffered(ctx: GatewayContext, meter: UsageMeter): GatewayFailure | void {
  const parsed = ctx.parsed!;
  const upstream = ctx.upstream!;
  const adapter = adapterFor(upstream.target.provider);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(upstream.bytes));
  } catch {
    return fail("upstream_bad_response", "upstream answered with a body that is not JSON", { upstreamStatus: upstream.status });
  }
  let body: unknown;
  if (parsed.capability === "embeddings") {
    const result = adapter.parseEmbeddingsResponse?.(json, parsed.model);
    if (!result || "kind" in result) return result ?? fail("upstream_bad_response", "upstream gave no embeddings");
    if (result.usage) meter.onUsage(result.usage);
    body = result.body;
  } else {
    const result = adapter.parseChatResponse(json, parsed.model);
    if ("kind" in result) return result;
    if (result.usage) meter.onUsage(result.usage);
    else for (const choice of result.body.choices) meter.onText(choice.message.content ?? "");
    body = ctx.ingress === "anthropic" ? openAIResponseToAnthropic(result.body, parsed.model) : result.body;
  }
  ctx.response = { status: 200, headers: responseHeaders(ctx, upstream.headers, JSON_HEADERS), json: body };
}

function transformStream(ctx: GatewayContext, meter: UsageMeter): GatewayFailure | void {
  const parsed = ctx.parsed!;
  const upstream = ctx.upstream!;
  if (parsed.capability !== "chat" || !upstream.stream) return fail("upstream_bad_response", "upstream sent no stream");
  const adapter = adapterFor(upstream.target.provider);
  const includeUsage = parsed.body.stream_options?.include_usage === true;
  // The adapters end a stream they find broken (an upstream error event, malformed data, no end) with
  // their own error event and a normal close; this remembers it so the request is not taken as complete.
  let brokenBy: GatewayFailure | undefined;
  const onError = (failure: GatewayFailure) => void (brokenBy ??= failure);
  let stream = upstream.stream.pipeThrough(
    adapter.chatStreamTransform({ requestedModel: parsed.model, includeUsage: includeUsage || ctx.ingress === "anthropic", onUsage: meter.onUsage, onText: meter.onText, onError }),
  );
  if (ctx.ingress === "anthropic") stream = stream.pipeThrough(openAIStreamToAnthropic({ requestedModel: parsed.model, onError }));
  const body = meteredStream(stream, {
    idleTimeoutMs: ctx.settings.upstreamIdleTimeoutMs,
    clientIdleTimeoutMs: ctx.settings.clientIdleTimeoutMs,
    maxBytes: ctx.settings.maxResponseBytes,
    errorEvent: (failure) => errorEventFor(ctx.ingress, failure, ctx.traceId),
    clientSignal: ctx.request.signal,
    onEnd: (end) => ctx.ending.end(brokenBy && end.ending === "complete" ? { ending: "upstream_failed", bytesSent: end.bytesSent, failure: brokenBy } : end),
  });
  ctx.response = { status: 200, headers: responseHeaders(ctx, upstream.headers, SSE_HEADERS), stream: body };
}

export const transformResponse: GatewayStep = {
  name: "transform_response",
  onFailure: "abort",
  timeoutMs: 5_000,
  retries: 0,
  run(ctx: GatewayContext) {
    const meter = new UsageMeter(() => promptText(ctx.parsed!.body));
    ctx.meter = meter;
    return ctx.parsed!.stream ? transformStream(ctx, meter) : transformBuffered(ctx, meter);
  },
};
