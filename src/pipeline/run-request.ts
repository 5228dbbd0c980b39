// Runs one gateway request through its channel's workflow and turns the context into the HTTP
// response: the transformed answer (JSON or a live stream), or one error body. The workflow's
// completion list is registered with waitUntil here, as the Response is created, and runs once the
// request's end is declared (ending.ts), however the body ends.
import type { Capability } from "../config/schemas";
import type { Channel, GatewayContext, IngressFormat } from "../context";
import type { Env } from "../env";
import { settingsOf } from "../env";
import { errorResponse, fail, sourceOf, wireStatusOf, type ErrorWire, type GatewayFailure } from "../errors";
import { scheduleCompletion } from "./completion";
import { newGatewayContext } from "./new-context";
import { runWorkflow } from "./engine";
import { workflowFor } from "./workflows";
import { readBodyLimited } from "../upstream/read-limited";
import { dropAnswerHeaders } from "../api/answer-headers";
import { beginIdempotency } from "../idempotency/key";
import { captureBody, captureStream, claimedKey, replayStoredResponse } from "../idempotency/response";
import { regionOf } from "../region";
import { cachedResponse } from "../cache/hit-response";

export interface GatewayCall {
  channel: Channel;
  capability: Capability;
  ingress: IngressFormat;
  traceId: string;
  /** Minted for this request by the app (src/api/response-ids.ts). */
  requestId: string;
}

/** Errors go back in the client's format: Anthropic's body and statuses on /messages. */
function wireOf(ingress: IngressFormat, requestId: string): ErrorWire | undefined {
  return ingress === "anthropic" ? { format: "anthropic", requestId } : undefined;
}

async function readBody(request: Request, limit: number): Promise<Uint8Array | GatewayFailure> {
  const read = await readBodyLimited(request, limit);
  if (!read.ok) return read.reason === "too_large" ? fail("request_too_large", `Request body exceeds ${limit} bytes.`) : fail("invalid_request", "Request body could not be read.");
  return read.bytes;
}

export async function runGatewayRequest(request: Request, env: Env, exec: ExecutionContext, call: GatewayCall): Promise<Response> {
  const receivedAt = Date.now();
  const settings = settingsOf(env);
  const rawBody = await readBody(request, settings.maxRequestBytes);
  const requestId = call.requestId;
  if (!(rawBody instanceof Uint8Array)) return errorResponse(rawBody, call.traceId, undefined, wireOf(call.ingress, requestId));
  const ctx = newGatewayContext({
    traceId: call.traceId,
    requestId,
    channel: call.channel,
    ingress: call.ingress,
    capability: call.capability,
    env,
    settings,
    exec,
    request,
    rawBody,
    clientIp: request.headers.get("cf-connecting-ip"),
    region: regionOf(request, settings.environment),
    receivedAt,
    flags: new Set(),
    principal: undefined,
    batch: undefined,
  });
  // Idempotency-Key (external): a malformed key is refused before any work; a valid one is hashed meanwhile.
  const badKey = beginIdempotency(ctx);
  if (badKey) return errorResponse(badKey, call.traceId, ctx.responseHeaders, wireOf(call.ingress, requestId));
  const workflow = workflowFor(call.channel);
  const result = await runWorkflow(workflow.steps, ctx);
  ctx.steps = result.records;
  // From here on every path creates the Response: the completion list is owned by the request from now.
  scheduleCompletion(ctx, workflow.completion);
  // Idempotency-Key (src/idempotency/response.ts): an earlier completed request's stored answer is replayed.
  const replay = result.answeredBy ? replayStoredResponse(ctx) : undefined;
  if (replay) return replay;
  if (result.failure) return failedResponse(ctx, result.failure);
  // A response-cache hit (src/steps/lookup-cache.ts), admitted like any request: the stored answer.
  if (ctx.cache?.result === "hit") return cachedResponse(ctx);
  // The transform built the answer's headers on ctx.responseHeaders (src/steps/transform-response.ts).
  const pending = ctx.response!;
  ctx.status = pending.status;
  if (pending.stream) {
    // A request that claimed an Idempotency-Key keeps what the client receives, for replays.
    const stream = claimedKey(ctx) ? captureStream(ctx, { ...pending, stream: pending.stream }) : pending.stream;
    return new Response(stream, { status: pending.status, headers: pending.headers });
  }
  const body = JSON.stringify(pending.json);
  if (claimedKey(ctx)) captureBody(ctx, pending, body);
  ctx.ending.end({ ending: "complete", bytesSent: body.length });
  return new Response(body, { status: pending.status, headers: pending.headers });
}

function failedResponse(ctx: GatewayContext, failure: GatewayFailure): Response {
  // A step after the transform failed: the error body carries the request's own headers, not the answer's.
  if (ctx.response) dropAnswerHeaders(ctx.responseHeaders);
  ctx.error = { source: sourceOf(failure.kind), code: failure.kind, upstreamStatus: failure.upstreamStatus };
  const wire = wireOf(ctx.ingress, ctx.requestId);
  ctx.status = wireStatusOf(failure, wire);
  ctx.ending.end({ ending: "complete", bytesSent: 0 });
  // A stream may have been opened before a later step failed: close it so the upstream call ends.
  ctx.response?.stream?.cancel().catch(() => {});
  return errorResponse(failure, ctx.traceId, ctx.responseHeaders, wire);
}
