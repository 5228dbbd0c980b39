// Step call_upstream: sends the request to the routed upstream candidates in order (fallback), each
// with retries and back-off before the first byte, behind the egress guard, with the gateway's own
// credential and no client header forwarded. Streaming bodies are handed on unread. A target whose
// circuit breaker is open is skipped without a call (src/upstream/breaker.ts); every call's outcome is
// reported to it, a stream's once the stream has ended (so a stream broken mid-way counts as a failure).
import type { GatewayContext, UpstreamAttempt } from "../context";
import type { PresetItem } from "../config/schemas";
import { err, fail, type GatewayFailure, type Result } from "../errors";
import type { GatewayCompletion, GatewayStep } from "./types";
import { failed } from "../pipeline/step";
import { adapterFor } from "../providers";
import { forwardableBody } from "../providers/request-fields";
import type { UpstreamHttpRequest } from "../providers/types";
import { credentialFor, egressVerdict } from "../upstream/target-access";
import { breakerBlocks, circuitOpen, isBreakerFailure, passBreaker, reportOutcome } from "../upstream/breaker";
import { readLimited } from "../upstream/read-limited";
import { readAnswerLimited, type DrainBounds } from "../upstream/read-answer";
import { usageFromTail } from "../providers/usage-tail";
import { slotForFallback } from "../backpressure/target-slots";
import { backoffDelayMs, DEFAULT_RETRY_POLICY, RETRYABLE_STATUSES, retryAfterMs } from "../upstream/retry-policy";

type TargetOutcome = { ok: true } | { ok: false; failure: GatewayFailure; tryNext: boolean };

const ERROR_BODY_LIMIT = 64 * 1024;

/** The request for `target`, with only the fields its preset forwards (src/providers/request-fields.ts). */
function buildRequest(ctx: GatewayContext, target: PresetItem): Result<UpstreamHttpRequest> | undefined {
  const parsed = ctx.parsed!;
  const adapter = adapterFor(target.provider);
  if (parsed.capability === "chat") {
    const body = forwardableBody("chat", parsed.body, target);
    return body.ok ? adapter.buildChatRequest(body.value, target, { stream: parsed.stream }) : err(body.failure);
  }
  if (!adapter.buildEmbeddingsRequest) return undefined;
  const body = forwardableBody("embeddings", parsed.body, target);
  return body.ok ? adapter.buildEmbeddingsRequest(body.value, target) : err(body.failure);
}

async function callTarget(ctx: GatewayContext, target: PresetItem, deadline: number): Promise<TargetOutcome> {
  const built = buildRequest(ctx, target);
  if (!built) return { ok: false, failure: fail("no_available_upstream", `upstream ${target.id} does not serve ${ctx.capability}`), tryNext: true };
  if (!built.ok) return { ok: false, failure: built.failure, tryNext: true };
  const request = built.value;
  const egress = egressVerdict(request.url, target, ctx.settings);
  if (!egress.ok) {
    ctx.attempts.push({ target: target.id, error: "egress_denied", durationMs: 0 });
    return { ok: false, failure: egress.failure, tryNext: true };
  }
  // A plain record (the adapters' header names are lower case): fetch() makes the one native copy.
  const headers: Record<string, string> = { ...request.headers };
  const unusable = credentialFor(ctx.env, ctx.settings, target, headers, ctx.traceId);
  if (unusable) {
    if (unusable.kind === "credential_not_allowed") ctx.attempts.push({ target: target.id, error: unusable.kind, durationMs: 0 });
    return { ok: false, failure: unusable, tryNext: true };
  }
  headers["x-request-id"] = ctx.traceId;
  const gate = await passBreaker(ctx.env, ctx.exec, target);
  if (!gate.allowed) {
    ctx.attempts.push({ target: target.id, error: "circuit_open", durationMs: 0 });
    return { ok: false, failure: circuitOpen(gate.retryAfterMs), tryNext: true };
  }
  // A fallback to a capped target takes its concurrency slot now (the first candidate's came with admission).
  const shed = await slotForFallback(ctx, target);
  if (shed) {
    ctx.attempts.push({ target: target.id, error: "overloaded", durationMs: 0 });
    return { ok: false, failure: shed, tryNext: true };
  }
  // A half-open probe is one call: retries would spend more calls than the breaker's probe budget.
  const policy = gate.probeCycle === undefined ? DEFAULT_RETRY_POLICY : { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 };
  let failure: GatewayFailure = fail("upstream_error", "upstream call failed");
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    const started = Date.now();
    const record: UpstreamAttempt = { target: target.id, durationMs: 0 };
    ctx.attempts.push(record);
    const result = await attemptOnce(ctx, target, egress.value, request, headers, Math.min(ctx.settings.upstreamFirstByteTimeoutMs, deadline - started));
    record.durationMs = Date.now() - started;
    const outcome = { ok: !isBreakerFailure(result), latencyMs: record.durationMs, probeCycle: gate.probeCycle };
    if (result.ok && ctx.upstream?.stream) {
      // A stream can still break after its first byte (reset, idle gap, malformed events): its outcome,
      // a half-open probe's included, is reported once the body has ended (reportStreamOutcome below).
      ctx.upstream.latencyMs = outcome.latencyMs;
      ctx.upstream.probeCycle = outcome.probeCycle;
    } else {
      reportOutcome(ctx.env, ctx.exec, target, outcome);
    }
    if (result.ok) {
      record.status = result.status;
      return { ok: true };
    }
    record.status = result.status;
    record.error = result.failure.kind;
    failure = result.failure;
    if (!result.retryable) return { ok: false, failure, tryNext: false };
    const delay = backoffDelayMs(policy, attempt, result.retryAfter);
    if (attempt === policy.maxAttempts || Date.now() + delay >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
    // The outcomes reported so far (by this call or others) may have opened the breaker meanwhile.
    if (breakerBlocks(target.id)) break;
  }
  return { ok: false, failure, tryNext: true };
}

type AttemptResult =
  | { ok: true; status: number }
  | { ok: false; failure: GatewayFailure; retryable: boolean; status?: number; retryAfter?: number };

async function attemptOnce(
  ctx: GatewayContext,
  target: PresetItem,
  url: URL,
  request: UpstreamHttpRequest,
  headers: Record<string, string>,
  firstByteTimeoutMs: number,
): Promise<AttemptResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(1, firstByteTimeoutMs));
  let response: Response;
  try {
    response = await fetch(url, { method: request.method, headers, body: request.body, redirect: "manual", signal: controller.signal });
  } catch {
    clearTimeout(timer);
    const timedOut = controller.signal.aborted;
    return {
      ok: false,
      retryable: true,
      failure: fail(timedOut ? "upstream_timeout" : "upstream_error", timedOut ? "upstream did not answer in time" : "could not reach the upstream"),
    };
  }
  clearTimeout(timer);
  const status = response.status;
  if (status >= 200 && status < 300) {
    if (ctx.parsed!.stream) {
      ctx.upstream = { target, status, headers: response.headers, stream: response.body ?? undefined, latencyMs: 0 };
      return { ok: true, status };
    }
    const read = await readAnswerLimited(response, ctx.settings.maxResponseBytes, drainBounds(ctx));
    if (!read.ok) {
      return read.reason === "too_large"
        ? unreceivedAnswer(ctx, target, response, read.tail)
        : { ok: false, retryable: true, status, failure: fail("upstream_error", "upstream response broke off", { upstreamStatus: status }) };
    }
    ctx.upstream = { target, status, headers: response.headers, bytes: read.bytes, latencyMs: 0 };
    return { ok: true, status };
  }
  const errorBody = await readLimited(response.body, ERROR_BODY_LIMIT);
  const text = errorBody.ok ? new TextDecoder().decode(errorBody.bytes) : "";
  const message = adapterFor(target.provider).errorMessage(status, text);
  const retryable = RETRYABLE_STATUSES.has(status);
  if (status >= 300 && status < 400) {
    return { ok: false, retryable: false, status, failure: fail("upstream_bad_response", "upstream answered with a redirect, which is not followed", { upstreamStatus: status }) };
  }
  const failure =
    status === 429
      ? fail("upstream_rate_limited", message, { upstreamStatus: status })
      : status >= 500
        ? fail("upstream_error", message, { upstreamStatus: status })
        : fail("upstream_error", message, { upstreamStatus: status, status: status === 401 || status === 403 ? 502 : status });
  return { ok: false, retryable, status, failure, retryAfter: retryAfterMs(response.headers.get("retry-after")) };
}

/** How far an answer over the size limit is read on for its usage: four limits in all, 64 KB kept, within the idle timeout and 30 s. */
function drainBounds(ctx: GatewayContext): DrainBounds {
  return { maxBytes: 4 * ctx.settings.maxResponseBytes, tailBytes: 64 * 1024, idleMs: ctx.settings.upstreamIdleTimeoutMs, maxMs: 30_000 };
}

/**
 * An answer over the size limit: the tenant gets a 502, but the upstream charged for it, so it is billed
 * (record_billing, src/billing/unreceived.ts): its usage from the body's tail, else the reservation.
 */
function unreceivedAnswer(ctx: GatewayContext, target: PresetItem, response: Response, tail: Uint8Array | undefined): AttemptResult {
  const usage = tail ? usageFromTail(target.provider, tail) : undefined;
  ctx.upstream = { target, status: response.status, headers: response.headers, latencyMs: 0, unreceived: usage ? { usage } : {} };
  const billed = usage ? "at the usage it reported" : "at the reservation, as its usage could not be read";
  const message = `upstream answer exceeded the size limit (${ctx.settings.maxResponseBytes} bytes) and was not delivered; the upstream charged for it, so it is billed ${billed}`;
  return { ok: false, retryable: false, status: response.status, failure: fail("upstream_response_too_large", message, { upstreamStatus: response.status }) };
}

export const callUpstream: GatewayStep = {
  name: "call_upstream",
  onFailure: "abort",
  timeoutMs: 300_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const deadline = ctx.receivedAt + ctx.settings.upstreamFirstByteTimeoutMs * 2;
    let failure: GatewayFailure = fail("no_available_upstream", "no upstream is available for this model");
    for (const target of ctx.route!.candidates) {
      const outcome = await callTarget(ctx, target, deadline);
      if (outcome.ok) return;
      // A real upstream failure tells the client more than a target skipped for its open breaker.
      const skipped = outcome.failure.kind === "circuit_open" || outcome.failure.kind === "overloaded";
      if (!skipped || failure.kind === "no_available_upstream") failure = outcome.failure;
      if (!outcome.tryNext || Date.now() >= deadline) break;
    }
    return failed(failure);
  },
};

/** A streamed answer's outcome reaches its circuit breaker when the stream ends; a client leaving is not the upstream's fault. */
export const reportStreamOutcome: GatewayCompletion = {
  name: "report_stream_outcome",
  when: (ctx) => ctx.upstream?.stream !== undefined,
  run(ctx, outcome) {
    const { target, latencyMs, probeCycle } = ctx.upstream!;
    reportOutcome(ctx.env, ctx.exec, target, { ok: outcome.ending !== "upstream_failed", latencyMs, probeCycle });
  },
};
