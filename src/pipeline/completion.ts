// Runs the request's completion callbacks (billing settlement, audit) exactly once, after the
// response body has ended however it ended, off the client's path (waitUntil).
import type { CompletionOutcome, GatewayContext } from "../context";
import type { GatewayFailure } from "../errors";
import { sourceOf } from "../errors";
import { requestMetrics } from "../metrics/request-metrics";

const finished = new WeakSet<GatewayContext>();

export interface EndInfo {
  ending: CompletionOutcome["ending"];
  bytesSent: number;
  failure?: GatewayFailure;
}

export function finishRequest(ctx: GatewayContext, end: EndInfo): void {
  if (finished.has(ctx)) return;
  finished.add(ctx);
  if (end.failure && !ctx.error) {
    ctx.error = { source: sourceOf(end.failure.kind), code: end.failure.kind, upstreamStatus: end.failure.upstreamStatus };
  }
  if (end.ending === "client_aborted") ctx.flags.add("client_aborted");
  if (end.ending === "upstream_failed") ctx.flags.add("stream_broken");
  ctx.onComplete.push(requestMetrics(ctx));
  ctx.exec.waitUntil(runCallbacks(ctx, end));
}

async function runCallbacks(ctx: GatewayContext, end: EndInfo): Promise<void> {
  const usage = ctx.meter ? await ctx.meter.final(end.ending === "complete") : undefined;
  const outcome: CompletionOutcome = { usage, ending: end.ending, bytesSent: end.bytesSent };
  for (const callback of ctx.onComplete) {
    try {
      await callback(outcome);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "completion callback failed", trace_id: ctx.traceId, error: String(error) }));
    }
  }
}
