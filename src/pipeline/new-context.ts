// The one place a request's context is built, for an HTTP request (run-request.ts) and for a batch line
// (run-batch-line.ts). Every field the steps fill in later exists from the start: one object shape for
// every request, so the code reading the context stays monomorphic instead of seeing a new shape per path.
import type { GatewayContext } from "../context";
import { Ending } from "./ending";

/** What the caller of the pipeline knows before any step runs. */
export type ContextStart = Pick<
  GatewayContext,
  "traceId" | "requestId" | "channel" | "ingress" | "capability" | "env" | "settings" | "exec" | "request" | "rawBody" | "clientIp" | "region" | "receivedAt" | "flags" | "principal" | "batch"
>;

export function newGatewayContext(start: ContextStart): GatewayContext {
  return {
    traceId: start.traceId,
    requestId: start.requestId,
    channel: start.channel,
    ingress: start.ingress,
    capability: start.capability,
    env: start.env,
    settings: start.settings,
    exec: start.exec,
    request: start.request,
    rawBody: start.rawBody,
    clientIp: start.clientIp,
    region: start.region,
    receivedAt: start.receivedAt,
    responseHeaders: new Headers({ "x-trace-id": start.traceId, "x-gateway-request-id": start.requestId }),
    flags: start.flags,
    steps: [],
    attempts: [],
    ending: new Ending(),
    idempotency: undefined,
    parsed: undefined,
    principal: start.principal,
    nonce: undefined,
    route: undefined,
    prompt: undefined,
    upstream: undefined,
    response: undefined,
    admission: undefined,
    holdId: undefined,
    targetSlot: undefined,
    status: undefined,
    billing: undefined,
    meter: undefined,
    error: undefined,
    cache: undefined,
    batch: start.batch,
  };
}
