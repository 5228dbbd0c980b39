// Turns a finished gateway request (its typed context) into metric increments in this isolate's
// accumulator: counts, latency, upstream attempts, rejections, fail-open flags, cost and the
// tenant's own recent statistics. Runs as the last completion task, never on the response path.
import type { GatewayContext } from "../context";
import type { GatewayCompletion } from "../steps/types";
import { ERROR_KINDS, type ErrorKind } from "../errors";
import { isBreakerFailure } from "../upstream/breaker";
import { DURATION_BUCKETS, STORED } from "./families";
import { isolateMetrics, scheduleFlush } from "./flush";
import { requestPath } from "../pipeline/request-path";
import { bucketIndex, type MetricsRecorder } from "./recorder";

const ROUTE_TEMPLATE = /^\/(external|internal)\/v1\/(chat\/completions|embeddings|messages|models|health|metrics)$/;

/** The route label: the request path when it is one of the gateway's routes, else "other" (bounded). */
export function routeTemplate(url: string): string {
  return routeLabel(new URL(url).pathname);
}

function routeLabel(path: string): string {
  return ROUTE_TEMPLATE.test(path) ? path : "other";
}

/** Refusals by the tenant's own limits (not an upstream's 429). */
export function isRejection(kind: ErrorKind): boolean {
  const info = ERROR_KINDS[kind];
  return info.source === "client" && (info.type === "rate_limit_error" || info.type === "insufficient_quota");
}

/** Attempts that never reached an upstream: skipped by the breaker or refused by the egress guard. */
const NOT_CALLED = new Set<string>(["circuit_open", "egress_denied"]);

/** Last of the completion list: the latency stops when the end was declared, not after billing and audit ran. */
export const recordMetrics: GatewayCompletion = {
  name: "record_metrics",
  run(ctx, outcome) {
    recordRequest(ctx, outcome.endedAt);
    scheduleFlush(ctx.env, ctx.exec);
  },
};

export function recordRequest(ctx: GatewayContext, endedAt: number, recorder: MetricsRecorder = isolateMetrics): void {
  const status = ctx.status ?? 0;
  const error = ctx.error;
  const model = ctx.route?.candidates[0]?.model ?? "none";
  const totalSeconds = Math.max(0, endedAt - ctx.receivedAt) / 1000;
  const stream = ctx.parsed?.stream === true && ctx.upstream?.stream !== undefined;

  recorder.count(STORED.requests, {
    channel: ctx.channel,
    route: routeLabel(requestPath(ctx.request)),
    model,
    status: String(status),
    error_source: error?.source ?? "none",
  });
  recorder.observe(STORED.duration, { channel: ctx.channel, stream: String(stream) }, totalSeconds);

  const upstreamStep = ctx.steps.find((s) => s.name === "call_upstream" && (s.status === "ok" || s.status === "failed"));
  if (!stream && upstreamStep && ctx.attempts.some((a) => !NOT_CALLED.has(a.error ?? ""))) {
    recorder.observe(STORED.overhead, { channel: ctx.channel }, Math.max(0, totalSeconds - upstreamStep.durationMs / 1000));
  }

  for (const attempt of ctx.attempts) {
    if (attempt.error && NOT_CALLED.has(attempt.error)) continue;
    recorder.count(STORED.upstreamRequests, { target: attempt.target });
    if (attempt.error && isBreakerFailure({ ok: false, status: attempt.status })) {
      recorder.count(STORED.upstreamFailures, { target: attempt.target, kind: attempt.error });
    }
  }
  if (ctx.flags.has("stream_broken")) {
    recorder.count(STORED.streamBroken, {});
    recorder.count(STORED.upstreamFailures, { target: ctx.upstream?.target.id ?? "none", kind: "stream_broken" });
  }
  const rejected = error !== undefined && isRejection(error.code);
  if (rejected) recorder.count(STORED.rejections, { kind: error.code });
  for (const flag of ctx.flags) {
    if (flag.endsWith("_fail_open")) recorder.count(STORED.failOpen, { kind: flag.slice(0, -"_fail_open".length) });
  }
  // A hit that lost to a rate limit or other refusal was not served from the cache: it counts as what it was.
  if (ctx.cache) recorder.count(STORED.cacheRequests, { result: ctx.cache.result === "hit" && !ctx.cache.served ? "bypass" : ctx.cache.result });
  const cost = ctx.billing?.costMicros ?? 0;
  if (ctx.principal && cost > 0) recorder.count(STORED.cost, { tenant: ctx.principal.tenantId }, cost);

  // The tenant's own view (GET /external/v1/health); internal services have the Prometheus series.
  if (ctx.channel !== "external" || !ctx.principal) return;
  const row = recorder.tenantMinute(ctx.principal.tenantId, Math.floor(ctx.receivedAt / 60_000));
  row.requests += 1;
  if (!error) {
    if (status >= 200 && status < 400) row.succeeded += 1;
    else row.clientErrors += 1;
  } else if (rejected) row.rejections += 1;
  else if (error.source === "client") row.clientErrors += 1;
  else if (error.source === "gateway") row.gatewayErrors += 1;
  else row.upstreamErrors += 1;
  if (!stream) {
    row.latency[bucketIndex(DURATION_BUCKETS, totalSeconds)]! += 1;
    row.latencySum += totalSeconds;
  }
  row.costMicros += cost;
  if (model !== "none" && !row.models.includes(model)) row.models.push(model);
}
