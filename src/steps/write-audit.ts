// Completion task write_audit: once the response has ended, emits the request's audit record (who, what,
// where it went, how it ended, each step's status and timing) to the audit queue. Never carries
// credentials, headers or bodies.
import type { CompletionOutcome, GatewayContext } from "../context";
import type { GatewayCompletion } from "./types";
import type { AuditMessage } from "../../queues/messages";
import { emitEvent } from "../billing/emit";
import { requestPath } from "../pipeline/request-path";

export function auditRecord(ctx: GatewayContext, outcome: CompletionOutcome): AuditMessage {
  return {
    v: 1,
    trace_id: ctx.traceId,
    request_id: ctx.requestId,
    tenant_id: ctx.principal?.tenantId ?? null,
    key_id: ctx.principal?.keyId ?? null,
    channel: ctx.channel,
    route: requestPath(ctx.request),
    model: ctx.parsed?.model ?? null,
    upstream: ctx.upstream?.target.id ?? null,
    status: ctx.status ?? 0,
    error_code: ctx.error?.code ?? null,
    error_source: ctx.error?.source ?? null,
    upstream_status: ctx.error?.upstreamStatus ?? null,
    latency_ms: Math.max(0, Date.now() - ctx.receivedAt),
    step_timings: ctx.steps.map((s) => ({ name: s.name, status: s.status, duration_ms: s.durationMs, attempts: s.attempts })),
    config_version: ctx.route?.configVersion ?? null,
    flags: [...ctx.flags],
    input_tokens: outcome.usage?.inputTokens ?? null,
    output_tokens: outcome.usage?.outputTokens ?? null,
    usage_estimated: outcome.usage?.estimated ?? null,
    cost_micros: ctx.billing?.costMicros ?? null,
    meta: { ending: outcome.ending, bytes_sent: outcome.bytesSent, attempts: ctx.attempts, ingress: ctx.ingress, stream: ctx.parsed?.stream ?? false, region: ctx.region },
    ...(ctx.batch && { batch_id: ctx.batch.id }),
    created_at: new Date(ctx.receivedAt).toISOString(),
  };
}

export const writeAudit: GatewayCompletion = {
  name: "write_audit",
  run: (ctx, outcome) => emitEvent(ctx, "audit", auditRecord(ctx, outcome)),
};
