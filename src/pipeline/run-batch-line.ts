// Runs one batch line through its creator's channel workflow, in process (no HTTP loop back into the
// gateway): the same routing, templates, admission, breakers, transforms and completion list as an
// interactive request, with the creator's principal set before the steps run (src/batches/line-principal.ts).
// The caller records the result in the batch's object first and only then finishes the request (settle,
// bill, audit), so a line whose result was not accepted is never billed.
import type { Principal } from "../context";
import type { Env } from "../env";
import { settingsOf } from "../env";
import { errorBody, sourceOf, statusOf, type ErrorKind, type GatewayFailure } from "../errors";
import { guardFor } from "../objects";
import { completeRequest } from "./completion";
import { newGatewayContext } from "./new-context";
import { runWorkflow } from "./engine";
import { newTraceId } from "./trace";
import { workflowFor } from "./workflows";
import type { ClaimedLine } from "../batches/types";
import { outputLineId } from "../batches/types";

/** Refusals that say "not now" (the owner's limits, an overloaded or broken upstream, a store away): the line waits and runs later. */
const RETRY_LATER: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  "rate_limit_exceeded",
  "tokens_rate_limit_exceeded",
  "global_rate_limit_exceeded",
  "concurrency_limit_exceeded",
  "overloaded",
  "circuit_open",
  "limiter_unavailable",
  "balance_unavailable",
  "config_unavailable",
  "auth_unavailable",
  "upstream_rate_limited",
]);

export type BatchLineOutcome =
  | { kind: "retry"; failure: GatewayFailure; finish(): Promise<void> }
  | { kind: "done"; ok: boolean; text: string; finish(accepted: boolean): Promise<void> };

export interface BatchLineCall {
  env: Env;
  exec: ExecutionContext;
  claimed: ClaimedLine;
  /** Line index within the batch. */
  n: number;
  principal: Principal;
  body: Uint8Array;
}

export function isRetryLater(failure: GatewayFailure): boolean {
  return RETRY_LATER.has(failure.kind);
}

/** A line that cannot be run at all (not JSON, streaming asked, its creator gone): an error-file entry. */
export function errorLine(batchId: string, n: number, customId: string, failure: GatewayFailure, requestId: string | null): string {
  const status = statusOf(failure);
  return JSON.stringify({
    id: outputLineId(batchId, n),
    custom_id: customId,
    response: requestId === null ? null : { status_code: status, request_id: requestId, body: errorBody(failure, requestId) },
    error: { code: failure.kind, message: failure.message },
  });
}

export async function runBatchLine(call: BatchLineCall): Promise<BatchLineOutcome> {
  const { claimed, env } = call;
  const settings = settingsOf(env);
  const traceId = newTraceId();
  const capability = claimed.endpoint === "/v1/embeddings" ? "embeddings" : "chat";
  // Never sent anywhere: what the steps read of "the request" (its path for the audit row and metrics).
  const request = new Request(`https://batch.invalid/${claimed.channel}${claimed.endpoint}`, { method: "POST", headers: { "content-type": "application/json" } });
  const ctx = newGatewayContext({
    traceId,
    requestId: claimed.requestId,
    channel: claimed.channel,
    ingress: "openai",
    capability,
    env,
    settings,
    exec: call.exec,
    request,
    rawBody: call.body,
    clientIp: null,
    region: null,
    receivedAt: Date.now(),
    flags: new Set(["batch"]),
    principal: call.principal,
    batch: { id: claimed.batchId, customId: claimed.line.customId },
  });
  const workflow = workflowFor(claimed.channel, { batch: true });
  const result = await runWorkflow(workflow.steps, ctx);
  ctx.steps = result.records;
  const finishAll = () => completeRequest(ctx, workflow.completion);
  // Not accepted (another claim of the line won): the hold goes back, nothing is billed; the audit row says so.
  const finishUnbilled = async () => {
    ctx.flags.add("batch_duplicate");
    if (ctx.holdId) await guardFor(env, call.principal.tenantId).release(ctx.holdId).catch(() => undefined);
    await completeRequest(ctx, workflow.completion.filter((t) => t.name !== "record_billing"));
  };
  const failure = result.failure;
  if (failure) {
    ctx.error = { source: sourceOf(failure.kind), code: failure.kind, upstreamStatus: failure.upstreamStatus };
    ctx.status = statusOf(failure);
    ctx.ending.end({ ending: "complete", bytesSent: 0 });
    if (isRetryLater(failure)) return { kind: "retry", failure, finish: finishAll };
    return { kind: "done", ok: false, text: errorLine(claimed.batchId, call.n, claimed.line.customId, failure, claimed.requestId), finish: (accepted) => (accepted ? finishAll() : finishUnbilled()) };
  }
  const pending = ctx.response!;
  ctx.status = pending.status;
  // A batch line never streams (refused before it runs), so the answer is JSON.
  const body = pending.json ?? (pending.stream ? await new Response(pending.stream).json().catch(() => null) : null);
  const text = JSON.stringify({ id: outputLineId(claimed.batchId, call.n), custom_id: claimed.line.customId, response: { status_code: pending.status, request_id: claimed.requestId, body }, error: null });
  ctx.ending.end({ ending: "complete", bytesSent: text.length });
  return { kind: "done", ok: pending.status < 400, text, finish: (accepted) => (accepted ? finishAll() : finishUnbilled()) };
}
