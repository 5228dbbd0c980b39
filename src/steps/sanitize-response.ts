// Step sanitize_response (external channel): removes upstream headers that reveal provider
// accounts, infrastructure or request ids, and configured body fields, before the tenant sees them.
import type { GatewayContext } from "../context";
import type { GatewayStep } from "./types";

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

/** Body fields removed from non-streamed JSON answers on the external channel. */
export const SANITIZED_BODY_FIELDS = ["system_fingerprint", "service_tier"] as const;

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
    if (typeof response.json === "object" && response.json !== null) {
      const body = response.json as Record<string, unknown>;
      for (const field of SANITIZED_BODY_FIELDS) delete body[field];
    }
  },
};
