// The workflows, as data: which steps run for each channel and after what, then the completion list
// that runs once the response has ended, whichever way it ended. Read this file to know exactly what
// happens to a request, in order. The engine validates both step DAGs when this module loads.
import type { Channel, CompletionOutcome, GatewayContext } from "../context";
import { compileWorkflow, type CompiledWorkflow } from "./engine";
import type { CompletionTask } from "./step";
import type { GatewayCompletion, PlacedStep } from "../steps/types";
import { validateRequest } from "../steps/validate-request";
import { verifySignatureStep } from "../steps/verify-signature";
import { verifyServiceToken } from "../steps/verify-service-token";
import { routeRequest } from "../steps/route-request";
import { admitRequest } from "../steps/admit";
import { countTokens } from "../steps/count-tokens";
import { lookupCache } from "../steps/lookup-cache";
import { storeCachedAnswer } from "../cache/store-answer";
import { renderTemplateStep } from "../steps/render-template";
import { callUpstream, reportStreamOutcome } from "../steps/call-upstream";
import { transformResponse } from "../steps/transform-response";
import { sanitizeResponse } from "../steps/sanitize-response";
import { recordBilling } from "../steps/record-billing";
import { writeAudit } from "../steps/write-audit";
import { finishIdempotency } from "../idempotency/response";
import { learnRoute } from "../routing/plan";
import { recordMetrics } from "../metrics/request-metrics";
import { releaseTargetSlot } from "../backpressure/target-slots";

/**
 * External (tenants): the body is parsed while the key and signature are checked; routing picks
 * candidates from cached presets while the request's tokens are counted for its reservation; one TenantGuard admit() decides the nonce, every rate limit, the quotas
 * and the balance hold, while the response cache is read beside it (a hit answers, still admitted and billed
 * at the cache price); the upstream is called; the answer is transformed and sanitized.
 * Within a layer the first step listed reports its failure first: credentials before the body, so an
 * unauthenticated caller learns nothing about what it sent.
 */
export const EXTERNAL_STEPS: readonly PlacedStep[] = [
  { step: verifySignatureStep, after: [] },
  { step: validateRequest, after: [] },
  { step: routeRequest, after: ["validate_request", "verify_signature"] },
  { step: countTokens, after: ["validate_request", "verify_signature"] },
  { step: admitRequest, after: ["route_request", "count_tokens"] },
  { step: lookupCache, after: ["route_request"] },
  { step: callUpstream, after: ["admit", "lookup_cache"] },
  { step: transformResponse, after: ["call_upstream"] },
  { step: sanitizeResponse, after: ["transform_response"] },
];

/**
 * Internal (company services): service tokens instead of keys and signatures, prompt templates,
 * its own limits, no prepaid balance (usage is still billed to the ledger), no sanitizing.
 */
export const INTERNAL_STEPS: readonly PlacedStep[] = [
  { step: verifyServiceToken, after: [] },
  { step: validateRequest, after: [] },
  { step: routeRequest, after: ["validate_request", "verify_service_token"] },
  { step: renderTemplateStep, after: ["validate_request", "verify_service_token"] },
  // The rendered messages are what the upstream reads.
  { step: countTokens, after: ["render_template"] },
  { step: admitRequest, after: ["route_request", "count_tokens"] },
  { step: lookupCache, after: ["route_request", "render_template"] },
  { step: callUpstream, after: ["admit", "lookup_cache"] },
  { step: transformResponse, after: ["call_upstream"] },
];

/**
 * A batch line (src/pipeline/run-batch-line.ts) runs its creator's channel workflow without the
 * authentication step: the batch was authenticated when it was created, and the line's principal is its
 * creator's, read again from the config store (src/batches/line-principal.ts) before the line starts.
 */
export const BATCH_EXTERNAL_STEPS: readonly PlacedStep[] = [
  { step: validateRequest, after: [] },
  { step: routeRequest, after: ["validate_request"] },
  { step: countTokens, after: ["validate_request"] },
  { step: admitRequest, after: ["route_request", "count_tokens"] },
  { step: lookupCache, after: ["route_request"] },
  { step: callUpstream, after: ["admit", "lookup_cache"] },
  { step: transformResponse, after: ["call_upstream"] },
  { step: sanitizeResponse, after: ["transform_response"] },
];

export const BATCH_INTERNAL_STEPS: readonly PlacedStep[] = [
  { step: validateRequest, after: [] },
  { step: routeRequest, after: ["validate_request"] },
  { step: renderTemplateStep, after: ["validate_request"] },
  { step: countTokens, after: ["render_template"] },
  { step: admitRequest, after: ["route_request", "count_tokens"] },
  { step: lookupCache, after: ["route_request", "render_template"] },
  { step: callUpstream, after: ["admit", "lookup_cache"] },
  { step: transformResponse, after: ["call_upstream"] },
];

/**
 * Once the response has ended (body end, cancel, client gone, or the stream's idle deadline), in this
 * order: the Idempotency-Key is stored or freed first (retries wait on it), a cacheable miss's answer is
 * stored (releasing identical requests waiting on it), the stream's outcome reaches
 * its breaker, the upstream target's concurrency slot goes back, the bandit learns, the hold is settled
 * and billed (which frees the tenant's and key's slots), the audit record and the metrics last (they
 * carry the cost).
 */
export const COMPLETION: readonly GatewayCompletion[] = [finishIdempotency, storeCachedAnswer, reportStreamOutcome, releaseTargetSlot, learnRoute, recordBilling, writeAudit, recordMetrics];

export interface ChannelWorkflow {
  readonly steps: CompiledWorkflow<GatewayContext>;
  readonly completion: readonly CompletionTask<GatewayContext, CompletionOutcome>[];
}

const workflows: Record<Channel, ChannelWorkflow> = {
  external: { steps: compileWorkflow("external", EXTERNAL_STEPS), completion: COMPLETION },
  internal: { steps: compileWorkflow("internal", INTERNAL_STEPS), completion: COMPLETION },
};

const batchWorkflows: Record<Channel, ChannelWorkflow> = {
  external: { steps: compileWorkflow("batch_external", BATCH_EXTERNAL_STEPS), completion: COMPLETION },
  internal: { steps: compileWorkflow("batch_internal", BATCH_INTERNAL_STEPS), completion: COMPLETION },
};

export function workflowFor(channel: Channel, opts: { batch?: boolean } = {}): ChannelWorkflow {
  return opts.batch ? batchWorkflows[channel] : workflows[channel];
}
