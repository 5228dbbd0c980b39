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
import { answerHeaders, JSON_HEADERS, SSE_HEADERS } from "../api/answer-headers";

const decoder = new TextDecoder();

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
  ctx.response = { status: 200, headers: answerHeaders(ctx.responseHeaders, upstream.headers, JSON_HEADERS), json: body };
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
    errorEvent: (failure) => errorEventFor(ctx.ingress, failure, ctx.traceId, ctx.requestId),
    clientSignal: ctx.request.signal,
    onEnd: (end) => ctx.ending.end(brokenBy && end.ending === "complete" ? { ending: "upstream_failed", bytesSent: end.bytesSent, failure: brokenBy } : end),
  });
  ctx.response = { status: 200, headers: answerHeaders(ctx.responseHeaders, upstream.headers, SSE_HEADERS), stream: body };
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
