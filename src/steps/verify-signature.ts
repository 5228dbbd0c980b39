// Step verify_signature (external channel): authenticates the tenant's API key and checks the request's
// HMAC signature (src/auth/authenticate-external.ts). The nonce is checked for replay by the admit step.
import type { GatewayContext } from "../context";
import { authenticateExternal } from "../auth/authenticate-external";
import { failed } from "../pipeline/step";
import type { GatewayStep } from "./types";
import { crossOrigin } from "../cors/origin-patterns";
import { corsAnswerHeaders } from "../cors/cors-headers";

export const verifySignatureStep: GatewayStep = {
  name: "verify_signature",
  onFailure: "abort",
  timeoutMs: 3_000,
  retries: 0,
  async run(ctx: GatewayContext) {
    const verified = await authenticateExternal(ctx);
    if (!verified.ok) return failed(verified.failure);
    ctx.principal = verified.value.principal;
    ctx.nonce = verified.value.nonce;
    // A browser origin that authentication let through is one the key allows: the page may read the answer, errors included.
    const origin = crossOrigin(ctx.request);
    if (origin !== null) for (const [name, value] of Object.entries(corsAnswerHeaders(origin))) ctx.responseHeaders.set(name, value);
  },
};
