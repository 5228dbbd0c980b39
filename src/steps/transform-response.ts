// Step transform_response: turns the upstream's answer into the client's wire format (OpenAI or
// Anthropic), non-streamed or as a live stream, metering token usage on the way.
import type { GatewayContext } from "../context";
import { UsageMeter } from "../billing/usage-meter";
import { billedPromptText } from "../billing/tokens";
import { fail } from "../errors";
import { failed, type StepOutcome } from "../pipeline/step";
import type { GatewayStep } from "./types";
import { adapterFor } from "../providers";
import { openAIResponseToAnthropic, openAIStreamToAnthropic } from "../providers/anthropic-ingress";
import { meteredStream } from "../upstream/metered-stream";
import { chainTranslators } from "../providers/stream-translator";
import type { StripFields } from "../providers/types";
import { errorEventFor } from "../api/stream-errors";
import { answerHeaders, JSON_HEADERS, SSE_HEADERS } from "../api/answer-headers";
import { keepAnswer, wantsAnswer } from "../cache/store-answer";
import { tapAnswer } from "../cache/stream-answer";

const decoder = new TextDecoder();

function transformBuffered(ctx: GatewayContext, meter: UsageMeter): StepOutcome {
  const parsed = ctx.parsed!;
  const upstream = ctx.upstream!;
  const adapter = adapterFor(upstream.target.provider);
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(upstream.bytes));
  } catch {
    return failed(fail("upstream_bad_response", "upstream answered with a body that is not JSON", { upstreamStatus: upstream.status }));
  }
  let body: unknown;
  if (parsed.capability === "embeddings") {
    const result = adapter.parseEmbeddingsResponse?.(json, parsed.model);
    if (!result) return failed(fail("upstream_bad_response", "upstream gave no embeddings"));
    if (!result.ok) return failed(result.failure);
    if (result.value.usage) meter.onUsage(result.value.usage);
    body = result.value.body;
    keepAnswer(ctx, body);
  } else {
    const result = adapter.parseChatResponse(json, parsed.model);
    if (!result.ok) return failed(result.failure);
    const answer = result.value;
    if (answer.usage) meter.onUsage(answer.usage);
    else for (const choice of answer.body.choices) meter.onText(choice.message.content ?? "");
    keepAnswer(ctx, answer.body);
    body = ctx.ingress === "anthropic" ? openAIResponseToAnthropic(answer.body, parsed.model) : answer.body;
  }
  ctx.response = { status: 200, headers: answerHeaders(ctx.responseHeaders, upstream.headers, JSON_HEADERS), json: body };
}

function transformStream(ctx: GatewayContext, meter: UsageMeter): StepOutcome {
  const parsed = ctx.parsed!;
  const upstream = ctx.upstream!;
  if (parsed.capability !== "chat" || !upstream.stream) return failed(fail("upstream_bad_response", "upstream sent no stream"));
  const adapter = adapterFor(upstream.target.provider);
  const includeUsage = parsed.body.stream_options?.include_usage === true;
  // Filled in by sanitize_response on the external channel, which runs before the first byte is read.
  const stripFields: StripFields = { fields: [] };
  const stages = [
    adapter.chatStream({ requestedModel: parsed.model, includeUsage: includeUsage || ctx.ingress === "anthropic", onUsage: meter.onUsage, onText: meter.onText, stripFields }),
  ];
  // A miss the cache may keep is assembled as it passes, in OpenAI form (src/cache/stream-answer.ts).
  if (wantsAnswer(ctx)) {
    const tapped = tapAnswer(ctx.cache!.maxEntryBytes);
    stages.push(tapped.stage);
    keepAnswer(ctx, tapped.answer);
  }
  if (ctx.ingress === "anthropic") stages.push(openAIStreamToAnthropic({ requestedModel: parsed.model }));
  const body = meteredStream(upstream.stream, {
    translator: chainTranslators(stages),
    idleTimeoutMs: ctx.settings.upstreamIdleTimeoutMs,
    clientIdleTimeoutMs: ctx.settings.clientIdleTimeoutMs,
    maxBytes: ctx.settings.maxResponseBytes,
    errorEvent: (failure) => errorEventFor(ctx.ingress, failure, ctx.traceId, ctx.requestId),
    clientSignal: ctx.request.signal,
    onEnd: (end) => ctx.ending.end(end),
  });
  ctx.response = { status: 200, headers: answerHeaders(ctx.responseHeaders, upstream.headers, SSE_HEADERS), stream: body, stripFields };
}

export const transformResponse: GatewayStep = {
  name: "transform_response",
  onFailure: "abort",
  timeoutMs: 5_000,
  retries: 0,
  run(ctx: GatewayContext) {
    const meter = new UsageMeter(() => billedPromptText(ctx.parsed!.body));
    ctx.meter = meter;
    return ctx.parsed!.stream ? transformStream(ctx, meter) : transformBuffered(ctx, meter);
  },
};
