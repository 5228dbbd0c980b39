// Answers the tenant did not receive but the upstream charged for: over MAX_RESPONSE_BYTES. A non-streamed
// one is billed at the usage read from its tail, else at the reservation for the target that answered
// (what it could have charged); a stream cut at the limit is billed at what was delivered (the upstream
// read stops there). Either way the ledger row and the audit record carry the flag oversize_answer.
import type { GatewayContext, Usage } from "../context";
import { reservedCost } from "./reservation";

export const OVERSIZE_FLAG = "oversize_answer";

export function isOversizeAnswer(ctx: GatewayContext): boolean {
  return ctx.upstream?.unreceived !== undefined || ctx.error?.code === "upstream_response_too_large";
}

/**
 * The usage of a non-streamed answer over the limit (undefined for any other request), and its cost when it
 * is the reservation's (a fixed figure; reported usage is priced like any other).
 */
export function unreceivedCharge(ctx: GatewayContext): { usage: Usage; costMicros?: number } | undefined {
  const upstream = ctx.upstream;
  if (!upstream?.unreceived) return undefined;
  const reported = upstream.unreceived.usage;
  if (reported) return { usage: { ...reported, estimated: false } };
  const reserved = reservedCost(ctx.prompt!, ctx.parsed!, upstream.target);
  return { usage: { inputTokens: reserved.inputTokens, outputTokens: reserved.outputTokens, estimated: true }, costMicros: reserved.costMicros };
}
