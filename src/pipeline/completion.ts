// Runs a workflow's completion list (settlement, breaker outcome, billing and audit emission, idempotency
// finish, metrics) exactly once per request, in the order the workflow writes it, after the request's
// end has been declared (ending.ts), off the client's path. Registered with waitUntil when the Response
// is created, so the work is owned by the request from the start and outlives a client that vanished.
import type { CompletionOutcome, GatewayContext } from "../context";
import { sourceOf } from "../errors";
import type { CompletionTask } from "./step";

export function scheduleCompletion(ctx: GatewayContext, tasks: readonly CompletionTask<GatewayContext, CompletionOutcome>[]): void {
  ctx.exec.waitUntil(completeRequest(ctx, tasks));
}

/** The completion list once the end is declared, awaited by the caller (a batch line acks its message only after it). */
export function completeRequest(ctx: GatewayContext, tasks: readonly CompletionTask<GatewayContext, CompletionOutcome>[]): Promise<void> {
  return ctx.ending.settled.then((end) => runCompletion(ctx, end, tasks));
}

async function runCompletion(
  ctx: GatewayContext,
  end: Awaited<GatewayContext["ending"]["settled"]>,
  tasks: readonly CompletionTask<GatewayContext, CompletionOutcome>[],
): Promise<void> {
  if (end.failure && !ctx.error) ctx.error = { source: sourceOf(end.failure.kind), code: end.failure.kind, upstreamStatus: end.failure.upstreamStatus };
  if (end.ending === "client_aborted") ctx.flags.add("client_aborted");
  if (end.ending === "upstream_failed") ctx.flags.add("stream_broken");
  if (end.flag) ctx.flags.add(end.flag);
  const usage = ctx.meter ? await ctx.meter.final(end.ending === "complete") : undefined;
  const outcome: CompletionOutcome = { usage, ending: end.ending, bytesSent: end.bytesSent, endedAt: end.endedAt };
  for (const task of tasks) {
    if (task.when && !task.when(ctx)) continue;
    try {
      await task.run(ctx, outcome);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "completion task failed", task: task.name, trace_id: ctx.traceId, error: String(error) }));
    }
  }
}
