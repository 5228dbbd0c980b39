// Step sanitize_response (external channel): removes upstream headers that reveal provider
// accounts, infrastructure or request ids, and body fields that describe the provider's deployment,
// before the tenant sees them (a stream's from each event as it passes).
import type { GatewayContext } from "../context";
import type { GatewayStep } from "./types";
import { deleteKeysDeep } from "../providers/common";
import { SANITIZED_BODY_FIELDS, stripSensitiveHeaders } from "../security/response-fields";

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
