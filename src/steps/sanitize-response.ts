// Step sanitize_response (external channel): removes upstream headers that reveal provider
// accounts, infrastructure or request ids, and body fields that describe the provider's deployment,
// before the tenant sees them (a stream's from each event as it passes).
import type { GatewayContext } from "../context";
import type { GatewayStep } from "./types";
import { deleteKeysDeep } from "../providers/common";

/** Upstream response headers a tenant must never see (lower case; prefixes end with "-"). */
export const SENSITIVE_RESPONSE_HEADERS = [
  "set-cookie",
  "server",
  "via",
  "x-powered-by",
  "openai-organization",
  "openai-project",
  "openai-processing-ms",
  "openai-version",
  "anthropic-organization-id",
  "x-upstream-request-id",
  "apim-request-id",
  "azureml-model-session",
  "x-ms-",
  "cf-",
  "x-envoy-",
  "x-amz-",
] as const;

/**
 * Body fields removed from answers on the external channel, streamed or not, wherever they appear (at
 * the top level, and in each choice for Azure's content filter results): they describe the provider's
 * deployment, not the answer.
 */
export const SANITIZED_BODY_FIELDS = ["system_fingerprint", "service_tier", "prompt_filter_results", "content_filter_results"] as const;

export function stripSensitiveHeaders(headers: Headers): void {
  for (const name of [...headers.keys()]) {
    if (SENSITIVE_RESPONSE_HEADERS.some((s) => (s.endsWith("-") ? name.startsWith(s) : name === s))) headers.delete(name);
  }
}

export const sanitizeResponse: GatewayStep = {
  name: "sanitize_response",
  onFailure: "abort",
  timeoutMs: 2_000,
  retries: 0,
  run(ctx: GatewayContext) {
    const response = ctx.response!;
    stripSensitiveHeaders(response.headers);
    deleteKeysDeep(response.json, SANITIZED_BODY_FIELDS);
    // A stream has not been read yet: its translation removes the same fields from every event.
    if (response.stripFields) response.stripFields.fields = SANITIZED_BODY_FIELDS;
  },
};
