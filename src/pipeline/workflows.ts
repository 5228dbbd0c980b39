// The workflows, as data: which steps run for each channel, and after what. Read this file to know
// exactly what happens to a request, in order. The engine validates both DAGs at start-up.
import type { Channel, GatewayContext } from "../context";
import { compileWorkflow, type CompiledWorkflow } from "./engine";
import type { Step } from "./step";
import { validateRequest } from "../steps/validate-request";
import { verifySignatureStep } from "../steps/verify-signature";
import { verifyServiceToken } from "../steps/verify-service-token";
import { routeRequest } from "../steps/route-request";
import { enforceRateLimit } from "../steps/enforce-rate-limit";
import { checkQuota } from "../steps/check-quota";
import { renderTemplateStep } from "../steps/render-template";
import { callUpstream } from "../steps/call-upstream";
import { transformResponse } from "../steps/transform-response";
import { sanitizeResponse } from "../steps/sanitize-response";
import { recordBilling } from "../steps/record-billing";
import { writeAudit } from "../steps/write-audit";

export type StepName =
  | "validate_request"
  | "verify_signature"
  | "verify_service_token"
  | "route_request"
  | "enforce_rate_limit"
  | "check_quota"
  | "render_template"
  | "call_upstream"
  | "transform_response"
  | "sanitize_response"
  | "record_billing"
  | "write_audit";

export type GatewayStep = Step<GatewayContext, StepName>;

/**
 * External (tenants): the body is parsed while the key and signature are checked; routing picks
 * candidates from cached presets; one TenantGuard admit() then serves both rate limits and
 * quota/balance; the upstream is called; the answer is transformed, sanitized, billed and audited.
 */
// Within a layer the first step listed reports its failure first: credentials before the body, so an
// unauthenticated caller learns nothing about what it sent.
export const EXTERNAL_WORKFLOW: readonly GatewayStep[] = [
  verifySignatureStep,
  validateRequest,
  { ...routeRequest, after: ["validate_request", "verify_signature"] },
  enforceRateLimit,
  checkQuota,
  { ...callUpstream, after: ["enforce_rate_limit", "check_quota"] },
  transformResponse,
  sanitizeResponse,
  { ...recordBilling, after: ["sanitize_response"] },
  writeAudit,
];

/**
 * Internal (company services): service tokens instead of keys and signatures, prompt templates,
 * its own limits, no prepaid balance (usage is still billed to the ledger), no sanitizing.
 */
export const INTERNAL_WORKFLOW: readonly GatewayStep[] = [
  verifyServiceToken,
  validateRequest,
  { ...routeRequest, after: ["validate_request", "verify_service_token"] },
  { ...renderTemplateStep, after: ["validate_request", "verify_service_token"] },
  enforceRateLimit,
  checkQuota,
  { ...callUpstream, after: ["enforce_rate_limit", "check_quota", "render_template"] },
  transformResponse,
  recordBilling,
  writeAudit,
];

const compiled: Record<Channel, CompiledWorkflow<GatewayContext>> = {
  external: compileWorkflow("external", EXTERNAL_WORKFLOW),
  internal: compileWorkflow("internal", INTERNAL_WORKFLOW),
};

export function workflowFor(channel: Channel): CompiledWorkflow<GatewayContext> {
  return compiled[channel];
}
