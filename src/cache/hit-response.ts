// A hit's response: the stored OpenAI-format answer rendered for this request, as JSON (OpenAI or
// Anthropic shape) or as a well-formed SSE stream through the same transforms a live answer takes.
// The request then ends and is billed at the preset's cache price (record-billing.ts).
import type { GatewayContext } from "../context";
import { answerHeaders, JSON_HEADERS, SSE_HEADERS } from "../api/answer-headers";
import { errorEventFor } from "../api/stream-errors";
import { adapterFor } from "../providers";
import { openAIResponseToAnthropic, openAIStreamToAnthropic } from "../providers/anthropic-ingress";
import type { OpenAIChatCompletion } from "../providers/types";
import { meteredStream } from "../upstream/metered-stream";
import { chainTranslators } from "../providers/stream-translator";
import { captureBody, captureStream, claimedKey } from "../idempotency/response";
import { CACHE_KEY_HEADER } from "./policy";
import { completionAsSse as completionSse } from "./stream-answer";

const encoder = new TextEncoder();

function hitStream(ctx: GatewayContext, body: OpenAIChatCompletion): ReadableStream<Uint8Array> {
  const entry = ctx.cache!.entry!;
  const parsed = ctx.parsed!;
  const includeUsage = parsed.capability === "chat" && parsed.body.stream_options?.include_usage === true;
  const text = encoder.encode(completionSse(body, entry.usage));
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(text);
      controller.close();
    },
  });
  const noop = () => {};
  const stages = [adapterFor("openai").chatStream({ requestedModel: parsed.model, includeUsage: includeUsage || ctx.ingress === "anthropic", onUsage: noop, onText: noop })];
  if (ctx.ingress === "anthropic") stages.push(openAIStreamToAnthropic({ requestedModel: parsed.model }));
  return meteredStream(source, {
    translator: chainTranslators(stages),
    idleTimeoutMs: ctx.settings.upstreamIdleTimeoutMs,
    clientIdleTimeoutMs: ctx.settings.clientIdleTimeoutMs,
    maxBytes: ctx.settings.maxResponseBytes,
    errorEvent: (failure) => errorEventFor(ctx.ingress, failure, ctx.traceId, ctx.requestId),
    clientSignal: ctx.request.signal,
    onEnd: (end) => ctx.ending.end(end),
  });
}

export function cachedResponse(ctx: GatewayContext): Response {
  const cache = ctx.cache!;
  const entry = cache.entry!;
  const parsed = ctx.parsed!;
  cache.served = true;
  ctx.flags.add("cache_hit");
  ctx.status = 200;
  ctx.responseHeaders.set(CACHE_KEY_HEADER, cache.key!);
  ctx.responseHeaders.set("age", String(Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000))));
  const chat = entry.body as OpenAIChatCompletion;
  if (parsed.stream && entry.capability === "chat") {
    const headers = answerHeaders(ctx.responseHeaders, new Headers(), SSE_HEADERS);
    const live = hitStream(ctx, { ...chat, model: parsed.model });
    const pending = { status: 200, headers, stream: live };
    const stream = claimedKey(ctx) ? captureStream(ctx, pending) : live;
    return new Response(stream, { status: 200, headers });
  }
  const headers = answerHeaders(ctx.responseHeaders, new Headers(), JSON_HEADERS);
  const json = entry.capability === "chat" && ctx.ingress === "anthropic" ? openAIResponseToAnthropic({ ...chat, model: parsed.model }, parsed.model) : { ...(entry.body as object), model: parsed.model };
  const text = JSON.stringify(json);
  if (claimedKey(ctx)) captureBody(ctx, { status: 200, headers, json }, text);
  ctx.ending.end({ ending: "complete", bytesSent: text.length });
  return new Response(text, { status: 200, headers });
}
