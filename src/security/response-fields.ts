// What the external channel removes from upstream answers before a tenant sees them: headers that reveal
// provider accounts, infrastructure or request ids, and body fields that describe the provider's
// deployment. Used by the sanitize_response step and by the response cache (a stored answer is stored
// sanitized), so it lives outside the steps.
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
